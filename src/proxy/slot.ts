import { EMPTY, Observable, Subscription, asyncScheduler, type Subscriber, defer, merge, retry, take, timer, type SchedulerLike } from '../rx';
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
 * After a stable connection ends, failed redials keep the first attempt's delay range
 * ([0, `reconnect.baseMs`)) for this long instead of doubling: a gateway restart refuses dials for a
 * second or two, and exponential growth over those refusals made the first request after the
 * restart wait seconds more (decisions.md D55). Past the window the backoff grows as usual.
 */
export const RESTART_WINDOW_MS = 10_000;

/**
 * One of the proxy's `connections`: an independent `defer(dial) → authenticate → serve` chain with
 * its own full-jitter backoff. Keeps only the retry and replacement policy; one connection's life is
 * `serveConnection`'s.
 *
 * - Retry: each failure's {@link reconnectVerdict} picks the delay (permanent → the long interval,
 *   cut short by a secret change; else full jitter, at least the gateway's Retry-After). The attempt
 *   count restarts from 1 only when the previous connection stayed authenticated for
 *   `reconnect.stableMs`, so one that authenticates and drops at once keeps backing off. After such a
 *   stable connection ends, failures within {@link RESTART_WINDOW_MS} keep the first attempt's delay
 *   range (a restarting gateway is back within a few of them).
 * - Replacement (make-before-break): on `retire` a new chain ("life") is subscribed at once while the
 *   old one stays subscribed (unsubscribing would close its socket mid-request); the old connection is
 *   drained once the new one emits `connected`, and its life is unsubscribed once it closed.
 *
 * Never completes on its own (while closing, a chain whose connection ends is not retried).
 * Unsubscribing closes every connection of the slot (each life's teardown).
 */
export function runSlot(o: SlotOptions): Observable<SlotUpdate> {
  return new Observable<SlotUpdate>((subscriber) => {
    const run = new SlotRun(o, subscriber);
    run.startLife();
    return () => run.stop();
  });
}

/**
 * One subscription of {@link runSlot}: the retry count, the stability clock and the connections being
 * replaced. Every life it starts is held in `lives`, so `stop` releases them all.
 */
class SlotRun {
  private readonly scheduler: SchedulerLike;
  private readonly slot: number;
  private readonly stableMs: number;
  private failures = 0;
  private connectedAt: number | null = null;
  /** Until this time, failures wait the first attempt's delay range ({@link RESTART_WINDOW_MS}). */
  private restartWindowEnds = 0;
  /** A gateway shutdown was announced: failures until the next connect are expected (info, not warn). */
  private gatewayRestarting = false;
  /** Retired connections waiting for their replacement to authenticate, then drained. */
  private readonly retiring = new Set<ServedConnection>();
  /** Every life still subscribed: the current one and those of retired connections still open. */
  private readonly lives = new Subscription();
  private current: Subscription | null = null;
  /** One chain of connections, retried until it retires (each subscription is one life). */
  private readonly life$: Observable<LinkEvent>;

  constructor(
    private readonly o: SlotOptions,
    private readonly subscriber: Subscriber<SlotUpdate>,
  ) {
    this.scheduler = o.scheduler ?? asyncScheduler;
    this.slot = o.slot;
    this.stableMs = o.reconnect.stableMs ?? DEFAULT_STABLE_MS;
    this.life$ = defer(() => {
      subscriber.next({ slot: this.slot, status: { state: 'connecting', attempt: this.failures + 1 } });
      return o.connect();
    }).pipe(retry({ delay: (err: unknown) => this.retryDelay(err) }));
  }

  /** Subscribes a new life (unless closing); it becomes the current one. */
  startLife(): void {
    if (this.o.closing()) return;
    const life = new Subscription();
    this.current = life;
    this.lives.add(life);
    life.add(
      this.life$.subscribe({
        next: (ev) => (ev.type === 'connected' ? this.onConnected(ev.connection) : this.onRetire(ev, life)),
        error: (err: unknown) => this.subscriber.error(err),
      }),
    );
  }

  stop(): void {
    this.lives.unsubscribe();
    this.retiring.clear();
  }

  /** The connection that just ended: if it was stable, the backoff starts over. */
  private noteEnd(): void {
    if (this.connectedAt === null) return;
    const upMs = this.scheduler.now() - this.connectedAt;
    this.connectedAt = null;
    if (upMs < this.stableMs) return;
    this.restartWindowEnds = this.scheduler.now() + RESTART_WINDOW_MS;
    if (this.failures > 0) this.o.log.info({ [F.slot]: this.slot, upMs, attempt: this.failures }, 'tunnel connection had been stable; reconnect backoff reset');
    this.failures = 0;
  }

  /** `retry`'s delay: reports the wait, and ends when the next attempt may start (never while closing). */
  private retryDelay(err: unknown): Observable<unknown> {
    this.noteEnd();
    if (this.o.closing()) return EMPTY;
    this.failures += 1;
    const verdict = reconnectVerdict(err);
    const { permanent } = verdict;
    const backoffAttempt = this.scheduler.now() < this.restartWindowEnds ? 1 : this.failures;
    const delayMs = reconnectDelayMs(verdict, backoffAttempt, this.o.reconnect, this.o.random);
    const { code } = verdict.error;
    const error = describeError(verdict.error);
    const fields = { [F.slot]: this.slot, [F.code]: code, [F.reason]: error, attempt: this.failures, delayMs, permanent, ...(verdict.hint === null ? {} : { [F.hint]: verdict.hint }) };
    if (permanent) this.o.log.error(fields, 'tunnel connection refused permanently; retrying slowly');
    else if (this.gatewayRestarting || verdict.gatewayGoingAway) this.o.log.info(fields, 'gateway is going away; reconnecting soon');
    else this.o.log.warn(fields, 'tunnel connection lost or failed; reconnecting');
    this.subscriber.next({ slot: this.slot, status: { state: 'waiting', attempt: this.failures, delayMs, error, code, permanent } });
    const wait = timer(delayMs, this.scheduler);
    // A new secret may be exactly what the permanent failure was waiting for: try it at once.
    return permanent ? merge(wait, this.o.secretChanges$).pipe(take(1)) : wait;
  }

  /** The current life authenticated: the connections it replaces are drained now. */
  private onConnected(conn: ServedConnection): void {
    this.connectedAt = this.scheduler.now();
    this.gatewayRestarting = false;
    this.subscriber.next({ slot: this.slot, status: { state: 'connected', connectionId: conn.id } });
    for (const old of this.retiring) {
      this.o.log.info({ [F.slot]: this.slot, [F.connection]: old.id, [F.replacement]: conn.id, [F.inFlight]: old.mux.activeStreams }, 'tunnel connection replaced; draining the old one');
      old.drain(`replaced by connection ${conn.id}`);
    }
    this.retiring.clear();
  }

  /** A life's connection retires: it stays open (and its life subscribed) until it closes; a new life starts. */
  private onRetire(ev: Extract<LinkEvent, { type: 'retire' }>, life: Subscription): void {
    this.noteEnd();
    if (ev.gatewayShutdown) this.gatewayRestarting = true;
    this.o.log.info({ [F.slot]: this.slot, [F.connection]: ev.connection.id, [F.reason]: ev.reason, [F.inFlight]: ev.connection.mux.activeStreams }, 'replacing tunnel connection (make-before-break)');
    this.retiring.add(ev.connection);
    // The retired life ends when its connection closes (drained, or closed before its replacement was up).
    life.add(
      ev.connection.closed$.subscribe(() => {
        this.retiring.delete(ev.connection);
        this.lives.remove(life);
        // Not now: this callback runs inside the multiplexer's close notification.
        this.scheduler.schedule(() => life.unsubscribe());
      }),
    );
    this.subscriber.next({ slot: this.slot, retiring: ev.connection });
    if (this.current === life) this.startLife();
  }
}
