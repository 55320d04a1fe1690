import pino, { type Logger } from 'pino';
import { Subject, ignoreElements, tap, type Observable } from 'rxjs';
import { TunnelError } from '../errors';
import { F, REDACT_PATHS, componentLogger, createLogger } from '../log';
import { AuditChain, type CheckpointSigner } from './chain';
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
  chain: AuditChain;
  /** The checkpoint interval timer; cleared on close. */
  timer: NodeJS.Timeout | null;
  log: Logger;
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
  /** Hash chain and signed checkpoints (docs/audit.md). Every line is chained; checkpoints need a signer. */
  chain?: AuditChainSettings;
}

/** How an audit logger chains and signs its records. */
export interface AuditChainSettings {
  /** Signs checkpoints (`loadCheckpointSigner`); null or absent: no checkpoints. */
  signer?: CheckpointSigner | null;
  /** A checkpoint every this many records (0 = off); default 1000. */
  every?: number;
  /** A checkpoint this often (ms) when records were written since the last one (0 = off); default 60000. */
  intervalMs?: number;
  /** Chain id; default random. */
  id?: string;
  /** Clock of checkpoint records; default `new Date()`. */
  now?: () => Date;
}

/** Default `audit.checkpoint.every`. */
export const DEFAULT_CHECKPOINT_EVERY = 1000;
/** Default `audit.checkpoint.intervalMs`. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;

/**
 * Creates the pino logger of the audit stream.
 *
 * `destination` is `'stdout'` (fd 1), `'stderr'` (fd 2) or a file path: the file is appended to,
 * its directory created, and writes are asynchronous and bounded (`AUDIT_MAX_BUFFERED_BYTES`);
 * call `closeAuditLogger` on shutdown to flush it. stdout/stderr are written synchronously, as the
 * operational logger does, so lines of both loggers sharing one fd never interleave mid-line.
 *
 * Every line carries `"audit": true`, an ISO `time` and the same redaction as src/log, and is
 * sealed into a hash chain (`chain`, `seq`, `prev`, `hash`; see chain.ts) in write order; with a
 * signer, signed checkpoint lines follow every `every` records, every `intervalMs` and on close.
 * The interval timer is cleared by `closeAuditLogger`. A failing destination (cannot open, disk
 * full) is reported on `options.log` and never throws.
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
  const settings = options.chain ?? {};
  const chain = new AuditChain({
    signer: settings.signer ?? null,
    every: settings.every ?? DEFAULT_CHECKPOINT_EVERY,
    ...(settings.id === undefined ? {} : { id: settings.id }),
    ...(settings.now === undefined ? {} : { now: settings.now }),
  });
  const state: DestinationState = { stream, file, opened: !file, failed: false, closing: null, chain, timer: null, log };
  const intervalMs = settings.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
  if (chain.signing && intervalMs > 0) {
    state.timer = setInterval(() => writeCheckpoint(state), intervalMs);
    // Never the reason a process stays up; closeAuditLogger clears it anyway.
    state.timer.unref();
  }

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
      // pino serialises synchronously and hands each line to the destination in call order, so
      // sealing here chains records exactly in the order they reach the file.
      hooks: { streamWrite: (line: string) => sealLine(state, line) },
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

function sealLine(state: DestinationState, line: string): string {
  try {
    return state.chain.seal(line);
  } catch (err: unknown) {
    // Written unsealed: verify reports the line, which is better than losing the record.
    safeLog(state.log, 'error', { [F.code]: AUDIT_ERROR.writeFailed, [F.err]: err }, 'audit record could not be sealed');
    return line;
  }
}

/** Writes a checkpoint when one is due; straight to the destination, already sealed. */
function writeCheckpoint(state: DestinationState): void {
  if (state.closing !== null || (state.failed && !state.opened)) return;
  try {
    const line = state.chain.checkpoint();
    if (line !== null) state.stream.write(line);
  } catch (err: unknown) {
    safeLog(state.log, 'error', { [F.code]: AUDIT_ERROR.writeFailed, [F.err]: err }, 'audit checkpoint write failed');
  }
}

/** Stops the checkpoint timer and writes a last checkpoint covering everything written. */
function stopChain(state: DestinationState): void {
  if (state.timer !== null) {
    clearInterval(state.timer);
    state.timer = null;
  }
  writeCheckpoint(state);
}

/**
 * Reopens the file of a logger made by `createAuditLogger` (SIGHUP after logrotate moved it): the
 * records that follow go to a new file at the same path, and the chain continues — the first
 * record of the new file links to the last one of the old. A no-op for stdout/stderr. Never
 * throws; a failure is reported on the operational logger (`TUNNEL_AUDIT_DESTINATION_FAILED`).
 */
export function reopenAuditLogger(logger: Logger): void {
  const state = destinations.get(logger);
  if (state === undefined || !state.file || state.closing !== null) return;
  try {
    state.stream.reopen();
  } catch (err: unknown) {
    safeLog(state.log, 'error', { [F.code]: AUDIT_ERROR.destinationFailed, [F.err]: err }, 'audit destination could not be reopened');
  }
}

/** Chain position of a logger made by `createAuditLogger` (null for any other logger). */
export function auditChainPosition(logger: Logger): { chain: string; seq: number; hash: string } | null {
  const state = destinations.get(logger);
  return state === undefined ? null : { chain: state.chain.id, seq: state.chain.seq, hash: state.chain.lastHash };
}

/**
 * Flushes and closes the destination of a logger made by `createAuditLogger`, after clearing the
 * checkpoint timer and writing a final checkpoint (when signing). For a file it waits until every
 * buffered record is written and the file is closed; stdout/stderr are written synchronously and
 * are left open. Idempotent; never rejects. Records logged afterwards are lost (and reported by
 * `auditSink`).
 */
export function closeAuditLogger(logger: Logger): Promise<void> {
  const state = destinations.get(logger);
  if (state === undefined) return Promise.resolve();
  if (state.closing === null) stopChain(state);
  if (!state.file) {
    state.closing ??= Promise.resolve();
    return state.closing;
  }
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
