import { EMPTY, Observable, Subscription, defer, merge, retry, take, timer } from 'rxjs';
import { DEFAULT_PERMANENT_MAX_MS, DEFAULT_PERMANENT_MIN_MS, fullJitterDelay, permanentDelay } from '../connection';
import { describeError } from '../errors';
import { F, type Logger } from '../log';
import type { CloseInfo, Multiplexer } from '../mux';
import { CloseCode, PERMANENT_CLOSE_CODES } from '../protocol';

/** One authenticated tunnel connection as the proxy serves it (see `serve` in proxy.ts). */
export interface ServedConnection {
  readonly id: string;
  readonly slot: number;
  readonly mux: Multiplexer;
  /** Emits once when the connection has closed. */
  readonly closed$: Observable<CloseInfo>;
  /** True while the gateway may open new streams on it (not draining, not closed). */
  readonly usable: boolean;
  /** GOAWAY (no new streams), then closes once no stream is in flight. Idempotent. */
  drain(reason: string): void;
  /** Closes at once (proxy stopped). Idempotent. */
  close(): void;
}

/**
 * What one connection's chain emits: `connected` once authenticated; `retire` when it must be
 * replaced (the gateway sent GOAWAY, or it reached its maximum age). After `retire` the connection
 * belongs to the slot, which drains it once the replacement is authenticated (make-before-break).
 * The chain errors when the connection closes (reconnect).
 */
export type LinkEvent =
  | { type: 'connected'; connection: ServedConnection }
  | { type: 'retire'; connection: ServedConnection; reason: string; gatewayShutdown: boolean };

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
  now?: () => number;
}

/** `reconnect.stableMs` when a config built in code leaves it out. */
export const DEFAULT_STABLE_MS = 10_000;

/** Longest `Retry-After` honoured (a gateway cannot park a proxy for longer than a permanent failure does). */
const MAX_RETRY_AFTER_MS = DEFAULT_PERMANENT_MAX_MS;

/** The gateway's `Retry-After` from a refused upgrade (HTTP 429), capped; 0 when there is none. */
function retryAfterMs(err: unknown): number {
  const ms = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : 0;
}

function isPermanent(err: unknown): boolean {
  if ((err as { permanent?: boolean }).permanent === true) return true;
  const closeCode = (err as { closeCode?: number }).closeCode;
  return typeof closeCode === 'number' && PERMANENT_CLOSE_CODES.has(closeCode);
}

/** The gateway said "going away, reconnect soon" (close 4000 it initiated), not a failure. */
function isGatewayGoingAway(err: unknown): boolean {
  return (err as { closeCode?: number }).closeCode === CloseCode.GOING_AWAY && (err as { local?: boolean }).local !== true;
}

/**
 * One of the proxy's `connections`: an independent `defer(dial) → authenticate → serve` chain with
 * its own full-jitter backoff. The attempt count restarts from 1 only when the previous session
 * stayed authenticated for `reconnect.stableMs` — a connection that authenticates and drops at
 * once keeps backing off. When a connection must be replaced a new chain is subscribed at once
 * while the old one stays subscribed and keeps serving its streams; the old connection is drained
 * only after the new one emits `connected`, and its chain is unsubscribed once it closed.
 *
 * Never completes on its own (while closing, a chain whose connection ends is not retried).
 * Unsubscribing closes every connection of the slot (each chain's teardown).
 */
export function runSlot(o: SlotOptions): Observable<SlotUpdate> {
  const now = o.now ?? Date.now;
  const slot = o.slot;
  return new Observable<SlotUpdate>((subscriber) => {
    let failures = 0;
    let connectedAt: number | null = null;
    /** A gateway shutdown was announced: failures until the next connect are expected (info, not warn). */
    let gatewayRestarting = false;
    const retiring = new Set<ServedConnection>();
    const subs = new Subscription();

    /** The session that just ended: if it was stable, the backoff starts over. */
    const stableMs = o.reconnect.stableMs ?? DEFAULT_STABLE_MS;
    const noteEnd = (): void => {
      if (connectedAt === null) return;
      const upMs = now() - connectedAt;
      connectedAt = null;
      if (upMs >= stableMs && failures > 0) {
        o.log.info({ [F.slot]: slot, upMs, attempt: failures }, 'tunnel connection had been stable; reconnect backoff reset');
      }
      if (upMs >= stableMs) failures = 0;
    };

    const life$ = defer(() => {
      subscriber.next({ slot, status: { state: 'connecting', attempt: failures + 1 } });
      return o.connect();
    }).pipe(
      retry({
        delay: (err: unknown) => {
          noteEnd();
          if (o.closing()) return EMPTY;
          failures += 1;
          const permanent = isPermanent(err);
          const delayMs = permanent
            ? permanentDelay({ permanentMinMs: DEFAULT_PERMANENT_MIN_MS, permanentMaxMs: DEFAULT_PERMANENT_MAX_MS }, o.random)
            : Math.max(fullJitterDelay(failures, o.reconnect, o.random), retryAfterMs(err));
          const code = (err as { code?: string }).code ?? 'TUNNEL_ERROR';
          const fields = { [F.slot]: slot, [F.code]: code, [F.reason]: describeError(err), attempt: failures, delayMs, permanent };
          if (permanent) o.log.error(fields, 'tunnel connection refused permanently; retrying slowly');
          else if (gatewayRestarting || isGatewayGoingAway(err)) o.log.info(fields, 'gateway is going away; reconnecting soon');
          else o.log.warn(fields, 'tunnel connection lost or failed; reconnecting');
          subscriber.next({ slot, status: { state: 'waiting', attempt: failures, delayMs, error: describeError(err), code, permanent } });
          // A new secret may be exactly what the permanent failure was waiting for: try it at once.
          return permanent ? merge(timer(delayMs), o.secretChanges$).pipe(take(1)) : timer(delayMs);
        },
      }),
    );

    /**
     * Chains whose connection was retired: still subscribed, because unsubscribing would close the
     * socket (the dial's teardown) while streams are in flight. Each ends when its connection closes.
     */
    const retiredLives = new Map<ServedConnection, Subscription>();
    let current: Subscription | null = null;

    const startLife = (): void => {
      if (o.closing()) return;
      const life = new Subscription();
      current = life;
      subs.add(life);
      life.add(
        life$.subscribe({
          next: (ev) => onEvent(ev, life),
          error: (err: unknown) => subscriber.error(err),
        }),
      );
    };

    const onEvent = (ev: LinkEvent, life: Subscription): void => {
      if (ev.type === 'connected') {
        connectedAt = now();
        gatewayRestarting = false;
        subscriber.next({ slot, status: { state: 'connected', connectionId: ev.connection.id } });
        for (const old of retiring) {
          o.log.info({ [F.slot]: slot, [F.connection]: old.id, [F.replacement]: ev.connection.id, [F.inFlight]: old.mux.activeStreams }, 'tunnel connection replaced; draining the old one');
          old.drain(`replaced by connection ${ev.connection.id}`);
        }
        retiring.clear();
        return;
      }
      noteEnd();
      if (ev.gatewayShutdown) gatewayRestarting = true;
      o.log.info({ [F.slot]: slot, [F.connection]: ev.connection.id, [F.reason]: ev.reason, [F.inFlight]: ev.connection.mux.activeStreams }, 'replacing tunnel connection (make-before-break)');
      retiring.add(ev.connection);
      retiredLives.set(ev.connection, life);
      // An old connection that closes before its replacement is up needs no drain; its chain ends.
      life.add(
        ev.connection.closed$.subscribe(() => {
          retiring.delete(ev.connection);
          retiredLives.delete(ev.connection);
          subs.remove(life);
          // After this tick: this callback runs inside the multiplexer's close notification.
          queueMicrotask(() => life.unsubscribe());
        }),
      );
      subscriber.next({ slot, retiring: ev.connection });
      if (current === life) startLife();
    };

    startLife();
    return () => {
      subs.unsubscribe();
      retiring.clear();
      retiredLives.clear();
    };
  });
}
