import pino, { type Logger } from 'pino';
import { Subject, ignoreElements, tap, type Observable } from 'rxjs';
import { TunnelError } from '../errors';
import { F, REDACT_PATHS, componentLogger, createLogger } from '../log';
import { AUDIT_ERROR } from './errors';
import { AUDIT, AUDIT_MSG } from './fields';
import { sanitizeAuditRecord, type AuditRecord } from './records';

type Destination = ReturnType<typeof pino.destination>;

/**
 * Bytes an asynchronous (file) destination may buffer before it drops records. Bounds memory when
 * the file cannot be opened or the disk stalls; drops are reported on the operational logger.
 */
export const AUDIT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** A dropped-records warning is logged for the first drop and then once per this many. */
const DROP_REPORT_EVERY = 10_000;

interface DestinationState {
  stream: Destination;
  /** A file we opened (and may close), as opposed to fd 1 / fd 2. */
  file: boolean;
  opened: boolean;
  failed: boolean;
  closing: Promise<void> | null;
}

const destinations = new WeakMap<Logger, DestinationState>();

let stderrLog: Logger | null = null;
/** Where audit problems go when the caller gave no operational logger: JSON lines on stderr. */
function fallbackLog(): Logger {
  stderrLog ??= componentLogger(createLogger({ destination: pino.destination({ fd: 2, sync: true }) }), 'audit');
  return stderrLog;
}

export interface AuditLoggerOptions {
  /**
   * Operational logger that receives destination errors and dropped-record warnings (never the
   * records). Defaults to JSON lines on stderr.
   */
  log?: Logger;
}

/**
 * Creates the pino logger of the audit stream.
 *
 * `destination` is `'stdout'` (fd 1), `'stderr'` (fd 2) or a file path: the file is appended to,
 * its directory created, and writes are asynchronous and bounded (`AUDIT_MAX_BUFFERED_BYTES`);
 * call `closeAuditLogger` on shutdown to flush it. stdout/stderr are written synchronously, as the
 * operational logger does, so lines of both loggers sharing one fd never interleave mid-line.
 *
 * Every line carries `"audit": true`, an ISO `time` and the same redaction as src/log. A failing
 * destination (cannot open, disk full) is reported on `options.log` and never throws.
 *
 * @throws TunnelError `TUNNEL_AUDIT_DESTINATION_INVALID` when `destination` is empty.
 */
export function createAuditLogger(destination: string, options: AuditLoggerOptions = {}): Logger {
  const target = destination.trim();
  if (target === '') {
    throw new TunnelError(AUDIT_ERROR.destinationInvalid, 'audit destination is empty');
  }
  const log = options.log ?? fallbackLog();
  const file = target !== 'stdout' && target !== 'stderr';
  const stream = file
    ? pino.destination({ dest: target, sync: false, mkdir: true, append: true, maxLength: AUDIT_MAX_BUFFERED_BYTES })
    : pino.destination({ fd: target === 'stdout' ? 1 : 2, sync: true });
  const state: DestinationState = { stream, file, opened: !file, failed: false, closing: null };

  stream.on('ready', () => {
    state.opened = true;
  });
  // Without a listener an 'error' event would crash the process.
  stream.on('error', (err: unknown) => {
    state.failed = true;
    safeLog(log, 'error', { [F.code]: AUDIT_ERROR.destinationFailed, [F.err]: err }, 'audit destination failed');
  });
  let dropped = 0;
  stream.on('drop', () => {
    dropped++;
    if (dropped === 1 || dropped % DROP_REPORT_EVERY === 0) {
      const fields = { [F.code]: AUDIT_ERROR.recordsDropped, dropped };
      safeLog(log, 'warn', fields, 'audit destination is not keeping up; records dropped');
    }
  });

  if (file) {
    // sonic-boom's own flush(cb) does not wait for queued writes when minLength is 0 (its default,
    // which keeps records from lingering in memory), so pino's logger.flush(cb) would report a
    // flush that has not happened. Make it wait for the queue to drain; minLength > 0 is not an
    // option: sonic-boom 4.2 then corrupts lines when flush races in-flight writes.
    const sonicFlush = stream.flush.bind(stream);
    stream.flush = (cb?: (err?: Error) => unknown): void => {
      if (cb === undefined) {
        sonicFlush();
        return;
      }
      void drained(state).then(() => cb());
    };
  }

  const logger = pino(
    {
      level: 'info',
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      base: { [AUDIT.audit]: true, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
  destinations.set(logger, state);
  return logger;
}

/**
 * Resolves once every record logged so far on a logger made by `createAuditLogger` has been
 * written to its destination (or the destination failed or closed). Never rejects. The same wait
 * backs `logger.flush(cb)` on an audit logger.
 */
export function flushAuditLogger(logger: Logger): Promise<void> {
  const state = destinations.get(logger);
  return state === undefined ? Promise.resolve() : drained(state);
}

function drained(state: DestinationState): Promise<void> {
  if (!state.file) return Promise.resolve(); // fd 1 / fd 2 are written synchronously
  if (state.closing !== null) return state.closing;
  if (state.failed && !state.opened) return Promise.resolve();
  const { stream } = state;
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      stream.off('ready', kick);
      resolve();
    };
    // An asynchronous sonic-boom emits 'drain' each time its queue empties; an empty write makes
    // sure one comes even when nothing is queued, and queues behind everything logged before.
    const kick = (): void => {
      stream.on('drain', done);
      try {
        stream.write('');
      } catch {
        done(); // destroyed
      }
    };
    stream.on('error', done);
    stream.on('close', done);
    if (state.opened) kick();
    else stream.once('ready', kick);
  });
}

/**
 * Flushes and closes the destination of a logger made by `createAuditLogger`. For a file it waits
 * until every buffered record is written and the file is closed; stdout/stderr are written
 * synchronously and are left open. Idempotent; never rejects. Records logged afterwards are lost
 * (and reported by `auditSink`).
 */
export function closeAuditLogger(logger: Logger): Promise<void> {
  const state = destinations.get(logger);
  if (state === undefined || !state.file) return Promise.resolve();
  state.closing ??= new Promise<void>((resolve) => {
    // A file that never opened has nothing to flush, and its stream would wait forever for 'ready'.
    if (state.failed && !state.opened) {
      resolve();
      return;
    }
    state.stream.once('close', () => resolve());
    state.stream.once('error', () => resolve());
    try {
      state.stream.end();
    } catch {
      resolve(); // already destroyed
    }
  });
  return state.closing;
}

/**
 * Writes one record: exactly the documented fields of its side (anything else dropped, queries
 * stripped, session id cut) as an info line with `msg: "audit"`. Never throws; returns false and
 * reports on `log` when the record could not be written.
 */
export function writeAuditRecord(audit: Logger, record: AuditRecord, log: Logger = fallbackLog()): boolean {
  try {
    audit.info(sanitizeAuditRecord(record), AUDIT_MSG);
    return true;
  } catch (err: unknown) {
    safeLog(
      log,
      'error',
      { [F.code]: AUDIT_ERROR.writeFailed, [F.err]: err, [F.requestId]: safeRid(record) },
      'audit record write failed',
    );
    return false;
  }
}

/**
 * The audit component: writes every record of `records$` to `audit` and emits nothing. Writing
 * never throws into the source (a failed write is reported on `log`); an error or completion of
 * `records$` ends the sink the same way. The caller owns the subscription; unsubscribing stops
 * writing but does not close the logger (see `closeAuditLogger`).
 */
export function auditSink(
  records$: Observable<AuditRecord>,
  audit: Logger,
  log: Logger = fallbackLog(),
): Observable<never> {
  return records$.pipe(
    tap((record) => {
      writeAuditRecord(audit, record, log);
    }),
    ignoreElements(),
  );
}

/**
 * The entry point the gateway and proxy write records to, backed by a Subject: pass `records$` to
 * `auditSink` and subscribe once (the caller owns and tears down that subscription). `write` is
 * synchronous and never throws as long as subscribers do not (auditSink does not). The trail
 * holds no queue: records written while no sink is subscribed are dropped, counted in `dropped`
 * and reported on `log` (the first drop, then every 10,000th).
 */
export class AuditTrail {
  readonly #records = new Subject<AuditRecord>();
  readonly #log: Logger;
  #dropped = 0;
  /** Every record written from now on; hot, no replay. */
  readonly records$: Observable<AuditRecord> = this.#records.asObservable();

  constructor(log: Logger = fallbackLog()) {
    this.#log = log;
  }

  /** Records dropped because no sink was subscribed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Hands `record` to the sink. Never throws. */
  write(record: AuditRecord): void {
    if (!this.#records.observed) {
      this.#dropped++;
      if (this.#dropped === 1 || this.#dropped % DROP_REPORT_EVERY === 0) {
        safeLog(
          this.#log,
          'warn',
          { [F.code]: AUDIT_ERROR.recordsDropped, dropped: this.#dropped, [F.requestId]: safeRid(record) },
          'audit record written with no audit sink subscribed; dropped',
        );
      }
      return;
    }
    // Subject.next does not rethrow a subscriber's error (RxJS reports it asynchronously), so
    // subscribers must not throw: auditSink catches every write failure itself.
    this.#records.next(record);
  }

  /** Completes `records$` (ending the sink); later writes count as dropped. */
  complete(): void {
    this.#records.complete();
  }
}

function safeRid(record: unknown): unknown {
  try {
    return (record as { rid?: unknown } | null)?.rid ?? null;
  } catch {
    return null;
  }
}

/** Logging about the audit must not throw either. */
function safeLog(log: Logger, level: 'warn' | 'error', obj: Record<string, unknown>, msg: string): void {
  try {
    log[level](obj, msg);
  } catch {
    // Nowhere left to report to; dropping the line is the only option that keeps requests running.
  }
}
