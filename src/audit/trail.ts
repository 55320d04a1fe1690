import type { Logger } from 'pino';
import { Subject, defer, finalize, ignoreElements, tap, type Observable } from '../rx';
import { F } from '../log';
import { AUDIT_ERROR } from './errors';
import { AUDIT_MSG } from './fields';
import { sanitizeAuditRecord, type AuditRecord } from './records';
import type { RequestAuditOptions } from './request-audit';

/**
 * The path of records from the components to a destination: `AuditTrail` (what the gateway and
 * proxy write to), `auditSink` (the subscription that writes them out) and `writeAuditRecord`.
 * The operational logger for problems is always passed in: nothing here holds module state.
 */

/**
 * An audit destination's own writer, found on the pino logger it hands out (destination.ts): it
 * writes the record without pino when it can (issue 10: pino's serialiser and redaction pass were a
 * tenth of a request's CPU) and returns false when the record must go through pino after all.
 */
export const FAST_AUDIT_WRITE = Symbol('mcp-tunnel.fastAuditWrite');
export type FastAuditWrite = (record: AuditRecord) => boolean;

/**
 * Also found on a destination's logger: registers a listener called once per record the destination
 * lost after its write had returned true (a failed per-turn batch, lines dropped past the buffer;
 * lost-records.ts) and returns its removal. `auditSink` registers its `onWriteFailed` for as long as
 * it is subscribed, so such records count like a failed write.
 */
export const AUDIT_LOST_RECORDS = Symbol('mcp-tunnel.auditLostRecords');
export type LostRecordsHook = (listener: () => void) => () => void;

/**
 * Sees every request's audit record as it starts and as it finishes, on the request path itself
 * (metrics: requests in flight, by status, bytes, duration). Must be cheap and must not throw.
 */
export interface AuditObserver {
  started(record: Readonly<AuditRecord>): void;
  finished(record: Readonly<AuditRecord>): void;
  /** A record could not be written to the destination. */
  writeFailed(): void;
}

/** A dropped-records warning is logged for the first drop and then once per this many. */
export const DROP_REPORT_EVERY = 10_000;

/**
 * Writes one record: exactly the documented fields of its side (anything else dropped, queries
 * stripped, session id cut) as an info line with `msg: "audit"`. Never throws; returns false and
 * reports on `log` when the record could not be written.
 */
export function writeAuditRecord(audit: Logger, record: AuditRecord, log: Logger): boolean {
  try {
    const fast = (audit as { [FAST_AUDIT_WRITE]?: FastAuditWrite })[FAST_AUDIT_WRITE];
    if (fast !== undefined && fast(record)) return true;
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
 * writing but does not close the destination (see `AuditDestination.close`).
 */
export function auditSink(
  records$: Observable<AuditRecord>,
  audit: Logger,
  log: Logger,
  /**
   * Called after each record that could not be written (metrics), also for one the destination
   * loses later (`AUDIT_LOST_RECORDS`); must not throw.
   */
  onWriteFailed?: () => void,
): Observable<never> {
  const write = records$.pipe(
    tap((record) => {
      if (!writeAuditRecord(audit, record, log)) onWriteFailed?.();
    }),
    ignoreElements(),
  );
  const lost = (audit as { [AUDIT_LOST_RECORDS]?: LostRecordsHook })[AUDIT_LOST_RECORDS];
  if (onWriteFailed === undefined || lost === undefined) return write;
  return defer(() => {
    const remove = lost(onWriteFailed);
    return write.pipe(finalize(remove));
  });
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
  #observer: AuditObserver | null = null;
  /** Every record written from now on; hot, no replay. */
  readonly records$: Observable<AuditRecord> = this.#records.asObservable();

  /**
   * The options every `RequestAudit` written to this trail is started with: `onStart` and
   * `onFinish` tell the observer (if any), `onFinish` then writes the record. One object for the
   * trail's life, so the request path allocates no closure for it.
   */
  readonly hooks: RequestAuditOptions<AuditRecord>;

  constructor(log: Logger) {
    this.#log = log;
    this.hooks = {
      onStart: (record) => this.#observer?.started(record),
      // The observer hears a finish only through the hooks, so every finish it sees pairs with a start.
      onFinish: (record) => {
        this.#observer?.finished(record);
        this.write(record);
      },
    };
  }

  /** Sets (or, with null, removes) the observer of started and finished requests. */
  observe(observer: AuditObserver | null): void {
    this.#observer = observer;
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

  /** Tells the observer that a record could not be written (pass to {@link auditSink}). */
  readonly writeFailed = (): void => this.#observer?.writeFailed();

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
export function safeLog(log: Logger, level: 'warn' | 'error', obj: Record<string, unknown>, msg: string): void {
  try {
    log[level](obj, msg);
  } catch {
    // Nowhere left to report to; dropping the line is the only option that keeps requests running.
  }
}
