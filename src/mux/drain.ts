import { NEVER, Observable, asyncScheduler, delay, map, observeOn, race, take, timer, type SchedulerLike } from '../rx';
import type { Multiplexer } from './multiplexer';

/** What a drain needs of a connection (a {@link Multiplexer}; an interface so virtual-time tests can fake it). */
export type Drainable = Pick<Multiplexer, 'goAway' | 'close' | 'idle$' | 'isClosed' | 'activeStreams'>;

export interface DrainOptions {
  /** How long in-flight streams may take; `Infinity` waits for them however long they take. */
  graceMs: number;
  /** GOAWAY sent first (no new streams); skipped if one was already sent. */
  goAway: { code: number; reason: string };
  /** Close code and reason once idle, or when the grace is over. */
  close: { code: number; reason: string };
  scheduler?: SchedulerLike;
  /**
   * Keep the idle connection open this long before closing (default 0). The multiplexer knows when
   * the application has read a stream to its end, not when its HTTP client has the last bytes; the
   * gateway lingers briefly so that a close never overtakes the tail of a response (docs/decisions.md).
   */
  lingerMs?: number;
}

export interface DrainResult {
  /** True when the connection went idle within the grace (nothing was cut). */
  drained: boolean;
  /** Streams still open when the grace ran out (cut by the close); 0 when drained. */
  cut: number;
  /** False when the connection had closed by itself before the drain ended; true when the drain closes it (right after this emission). */
  closedByDrain: boolean;
}

/**
 * Drains one connection: GOAWAY, wait for {@link Multiplexer.idle$} (which respects the GOAWAY
 * fence) or the grace, then close. Emits one {@link DrainResult} and completes. Unsubscribing
 * before that stops waiting and leaves the connection open (its owner closes it).
 *
 * Every drain goes through here: a replaced proxy connection, the proxy's shutdown, and the
 * gateway's drain of a connection whose secret was revoked.
 */
export function drain(mux: Drainable, opts: DrainOptions): Observable<DrainResult> {
  const scheduler = opts.scheduler ?? asyncScheduler;
  return new Observable<DrainResult>((subscriber) => {
    mux.goAway(opts.goAway.code, opts.goAway.reason);
    const grace$ = Number.isFinite(opts.graceMs) ? timer(Math.max(0, opts.graceMs), scheduler).pipe(map(() => false)) : NEVER;
    // observeOn: the idle moment is inside the multiplexer's release of a stream; close after it.
    const linger = opts.lingerMs ?? 0;
    const idle$ = mux.idle$.pipe(
      linger > 0 ? delay(linger, scheduler) : observeOn(scheduler),
      map(() => true),
    );
    return race(idle$, grace$)
      .pipe(take(1))
      .subscribe((drained) => {
        const open = !mux.isClosed;
        // Reported before the close, so that the owner's log line precedes the close's consequences.
        subscriber.next({ drained, cut: open ? mux.activeStreams : 0, closedByDrain: open });
        mux.close(opts.close.code, opts.close.reason);
        subscriber.complete();
      });
  });
}
