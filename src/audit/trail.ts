import type { Logger } from 'pino';
import { Subject, ignoreElements, tap, type Observable } from 'rxjs';
import { F } from '../log';
import { AUDIT_ERROR } from './errors';
import { AUDIT_MSG } from './fields';
import { sanitizeAuditRecord, type AuditRecord } from './records';

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

  constructor(log: Logger) {
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
export function safeLog(log: Logger, level: 'warn' | 'error', obj: Record<string, unknown>, msg: string): void {
  try {
    log[level](obj, msg);
  } catch {
    // Nowhere left to report to; dropping the line is the only option that keeps requests running.
  }
}
