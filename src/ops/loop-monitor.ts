/** Time and timers, injectable so that stall detection is tested without sleeping. */
export interface LoopClock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** The real clock; its timer is unref'd so that monitoring never keeps the process alive. */
export const systemLoopClock: LoopClock = {
  now: () => performance.now(),
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

export interface LoopMonitorOptions {
  /** How often the probe timer runs (default 500 ms). */
  intervalMs?: number;
  /** A timer late by more than this means the event loop stalled (default 2000 ms). */
  stallMs?: number;
  /** How long a stall keeps `/healthz` failing after the loop recovered (default 30 s). */
  holdMs?: number;
  clock?: LoopClock;
}

/** What {@link LoopMonitor.status} reports. */
export interface LoopStatus {
  stalled: boolean;
  /** The largest lateness of the probe timer seen within the hold window, in ms. */
  maxLagMs: number;
}

/**
 * Detects event-loop stalls by timer drift: a probe timer that fires `intervalMs` apart; lateness
 * beyond `stallMs` is a stall. A stalled loop cannot answer `/healthz` while it is blocked, so the
 * monitor remembers a stall for `holdMs`: the first probe after recovery still sees it and a
 * liveness check fails instead of passing on a process that just froze for minutes. While the timer
 * is overdue right now (`now - lastTick > stallMs`) the loop counts as stalled too.
 */
export class LoopMonitor {
  private readonly intervalMs: number;
  private readonly stallMs: number;
  private readonly holdMs: number;
  private readonly clock: LoopClock;
  private handle: unknown;
  private lastTick = 0;
  private lastStallAt = Number.NEGATIVE_INFINITY;
  private peakLag = 0;
  private peakAt = Number.NEGATIVE_INFINITY;

  constructor(opts: LoopMonitorOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 500;
    this.stallMs = opts.stallMs ?? 2000;
    this.holdMs = opts.holdMs ?? 30_000;
    this.clock = opts.clock ?? systemLoopClock;
  }

  /** Starts the probe timer (idempotent). */
  start(): void {
    if (this.handle !== undefined) return;
    this.lastTick = this.clock.now();
    this.handle = this.clock.setInterval(() => this.tick(), this.intervalMs);
  }

  /** Stops the probe timer (idempotent). */
  stop(): void {
    if (this.handle === undefined) return;
    this.clock.clearInterval(this.handle);
    this.handle = undefined;
  }

  /** Whether the loop is (or within `holdMs` was) stalled. Before {@link start} it reports healthy. */
  status(): LoopStatus {
    const now = this.clock.now();
    const overdue = this.handle !== undefined ? Math.max(0, now - this.lastTick - this.intervalMs) : 0;
    const peak = now - this.peakAt <= this.holdMs ? this.peakLag : 0;
    const maxLagMs = Math.round(Math.max(peak, overdue));
    return { stalled: overdue > this.stallMs || now - this.lastStallAt <= this.holdMs, maxLagMs };
  }

  private tick(): void {
    const now = this.clock.now();
    const lag = Math.max(0, now - this.lastTick - this.intervalMs);
    this.lastTick = now;
    if (lag > this.stallMs) this.lastStallAt = now;
    if (lag >= this.peakLag || now - this.peakAt > this.holdMs) {
      this.peakLag = lag;
      this.peakAt = now;
    }
  }
}
