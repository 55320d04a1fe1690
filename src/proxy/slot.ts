import { EMPTY, Observable, Subscription, asyncScheduler, defer, merge, retry, take, timer, type SchedulerLike } from 'rxjs';
import { reconnectDelayMs, reconnectVerdict } from '../connection';
import { describeError } from '../errors';
import { F, type Logger } from '../log';
import type { LinkEvent, ServedConnection } from './served-connection';

/** One slot's state, as `ProxyStatus` reports it. */
export type SlotStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected'; connectionId: string }
  | { state: 'waiting'; attempt: number; delayMs: number; error: string; code: string; permanent: boolean };

export type SlotUpdate = { slot: number; status: SlotStatus } | { slot: number; retiring: ServedConnection };

export interface SlotOptions {
  slot: number;
  /** dial → authenticate → serve, one connection; errors when it ends. */
  connect: () => Observable<LinkEvent>;
  reconnect: { baseMs: number; capMs: number; stableMs?: number };
  /** Emits when the secret changes (ends a permanent wait early). */
  secretChanges$: Observable<unknown>;
  /** True once the proxy is closing: no reconnect, no replacement. */
  closing: () => boolean;
  log: Logger;
  random: () => number;
  /** Time for the backoff and the stability clock (default `asyncScheduler`; a `TestScheduler` in tests). */
  scheduler?: SchedulerLike;
}

/** `reconnect.stableMs` when a config built in code leaves it out. */
export const DEFAULT_STABLE_MS = 10_000;

/**
 * One of the proxy's `connections`: an independent `defer(dial) → authenticate → serve` chain with
 * its own full-jitter backoff. Keeps only the retry and replacement policy; one connection's life is
 * `serveConnection`'s.
 *
 * - Retry: each failure's {@link reconnectVerdict} picks the delay (permanent → the long interval,
 *   cut short by a secret change; else full jitter, at least the gateway's Retry-After). The attempt
 *   count restarts from 1 only when the previous connection stayed authenticated for
 *   `reconnect.stableMs`, so one that authenticates and drops at once keeps backing off.
 * - Replacement (make-before-break): on `retire` a new chain ("life") is subscribed at once while the
 *   old one stays subscribed (unsubscribing would close its socket mid-request); the old connection is
 *   drained once the new one emits `connected`, and its life is unsubscribed once it closed.
 *
 * Never completes on its own (while closing, a chain whose connection ends is not retried).
 * Unsubscribing closes every connection of the slot (each life's teardown).
 */
export function runSlot(o: SlotOptions): Observable<SlotUpdate> {
  const scheduler = o.scheduler ?? asyncScheduler;
  const slot = o.slot;
  const stableMs = o.reconnect.stableMs ?? DEFAULT_STABLE_MS;
  return new Observable<SlotUpdate>((subscriber) => {
    let failures = 0;
    let connectedAt: number | null = null;
    /** A gateway shutdown was announced: failures until the next connect are expected (info, not warn). */
    let gatewayRestarting = false;
    /** Retired connections waiting for their replacement to authenticate, then drained. */
    const retiring = new Set<ServedConnection>();
    /** Every life still subscribed: the current one and those of retired connections still open. */
    const lives = new Subscription();
    let current: Subscription | null = null;

    /** The connection that just ended: if it was stable, the backoff starts over. */
    const noteEnd = (): void => {
      if (connectedAt === null) return;
      const upMs = scheduler.now() - connectedAt;
      connectedAt = null;
      if (upMs < stableMs) return;
      if (failures > 0) o.log.info({ [F.slot]: slot, upMs, attempt: failures }, 'tunnel connection had been stable; reconnect backoff reset');
      failures = 0;
    };

    const retryDelay = (err: unknown): Observable<unknown> => {
      noteEnd();
      if (o.closing()) return EMPTY;
      failures += 1;
      const verdict = reconnectVerdict(err);
      const { permanent } = verdict;
      const delayMs = reconnectDelayMs(verdict, failures, o.reconnect, o.random);
      const { code } = verdict.error;
      const error = describeError(verdict.error);
      const fields = { [F.slot]: slot, [F.code]: code, [F.reason]: error, attempt: failures, delayMs, permanent };
      if (permanent) o.log.error(fields, 'tunnel connection refused permanently; retrying slowly');
      else if (gatewayRestarting || verdict.gatewayGoingAway) o.log.info(fields, 'gateway is going away; reconnecting soon');
      else o.log.warn(fields, 'tunnel connection lost or failed; reconnecting');
      subscriber.next({ slot, status: { state: 'waiting', attempt: failures, delayMs, error, code, permanent } });
      // A new secret may be exactly what the permanent failure was waiting for: try it at once.
      return permanent ? merge(timer(delayMs, scheduler), o.secretChanges$).pipe(take(1)) : timer(delayMs, scheduler);
    };

    const life$ = defer(() => {
      subscriber.next({ slot, status: { state: 'connecting', attempt: failures + 1 } });
      return o.connect();
    }).pipe(retry({ delay: retryDelay }));

    const onConnected = (conn: ServedConnection): void => {
      connectedAt = scheduler.now();
      gatewayRestarting = false;
      subscriber.next({ slot, status: { state: 'connected', connectionId: conn.id } });
      for (const old of retiring) {
        o.log.info({ [F.slot]: slot, [F.connection]: old.id, [F.replacement]: conn.id, [F.inFlight]: old.mux.activeStreams }, 'tunnel connection replaced; draining the old one');
        old.drain(`replaced by connection ${conn.id}`);
      }
      retiring.clear();
    };

    const onRetire = (ev: Extract<LinkEvent, { type: 'retire' }>, life: Subscription): void => {
      noteEnd();
      if (ev.gatewayShutdown) gatewayRestarting = true;
      o.log.info({ [F.slot]: slot, [F.connection]: ev.connection.id, [F.reason]: ev.reason, [F.inFlight]: ev.connection.mux.activeStreams }, 'replacing tunnel connection (make-before-break)');
      retiring.add(ev.connection);
      // The retired life ends when its connection closes (drained, or closed before its replacement was up).
      life.add(
        ev.connection.closed$.subscribe(() => {
          retiring.delete(ev.connection);
          lives.remove(life);
          // Not now: this callback runs inside the multiplexer's close notification.
          scheduler.schedule(() => life.unsubscribe());
        }),
      );
      subscriber.next({ slot, retiring: ev.connection });
      if (current === life) startLife();
    };

    const startLife = (): void => {
      if (o.closing()) return;
      const life = new Subscription();
      current = life;
      lives.add(life);
      life.add(
        life$.subscribe({
          next: (ev) => (ev.type === 'connected' ? onConnected(ev.connection) : onRetire(ev, life)),
          error: (err: unknown) => subscriber.error(err),
        }),
      );
    };

    startLife();
    return () => {
      lives.unsubscribe();
      retiring.clear();
    };
  });
}
