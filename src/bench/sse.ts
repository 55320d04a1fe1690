/**
 * SSE load: many concurrent `text/event-stream` GETs, each served `events` events by the upstream
 * (the first at once, then one per `intervalMs`). Each event carries the upstream's hrtime when it
 * was written (upstream.ts); the reader's hrtime on arrival minus that is the event's latency, on
 * the machine-wide monotonic clock. Time to first event runs from the request's start.
 */
import http from 'node:http';
import { percentile } from './stats';
import type { Target } from './target';

export interface SseOptions {
  streams: number;
  events: number;
  intervalMs: number;
  /** Streams are opened evenly over this many ms (0 = all at once). */
  rampMs: number;
}

export interface SseResult {
  streams: number;
  /** Streams that received every event. */
  fullyServed: number;
  eventsDelivered: number;
  eventsExpected: number;
  /** ms; Infinity when more than that share of streams never got an event. */
  ttfeP50: number;
  ttfeP99: number;
  latencyP50: number;
  latencyP99: number;
  /** Streams that got some events but not all. */
  partlyServed: number;
  /** Streams that failed (connection error, non-200), by reason. */
  errors: number;
  reasons: Record<string, number>;
}

export interface SseRun {
  /**
   * Resolves with the number of streams open at that moment (first event received, not ended) once
   * every stream has its first event, or 2 s after the ramp when some never get one.
   */
  allOpen: Promise<number>;
  done: Promise<SseResult>;
}

const T_FIELD = /"t":"(\d+)"/;

/** The state of one SSE load run: counters shared by its streams. */
class SseState {
  readonly ttfe: number[] = [];
  readonly latency: number[] = [];
  readonly requests: http.ClientRequest[] = [];
  fullyServed = 0;
  /** Streams that have had their first event and have not ended. */
  openNow = 0;
  finished = 0;
  errors = 0;
  readonly reasons = new Map<string, number>();

  constructor(
    private readonly t: Target,
    private readonly o: SseOptions,
    private readonly onAllFirst: () => void,
    private readonly onAllEnded: () => void,
  ) {}

  fail(why: string): void {
    this.errors += 1;
    // Ids and hashes differ per stream: without them, equal reasons group together.
    const reason = why.replace(/[0-9a-f-]{16,}/gi, '…').slice(0, 160);
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }

  /** Opens one stream and follows it to its end. */
  open(): void {
    const start = process.hrtime.bigint();
    let got = 0;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      if (got > 0) this.openNow -= 1;
      if (got === this.o.events) this.fullyServed += 1;
      if (++this.finished === this.o.streams) this.onAllEnded();
    };
    const onEvent = (now: bigint, sentAt: bigint): void => {
      if (got++ === 0) {
        this.openNow += 1;
        this.ttfe.push(Number(now - start) / 1e6);
        if (this.ttfe.length === this.o.streams) this.onAllFirst();
      }
      this.latency.push(Number(now - sentAt) / 1e6);
    };
    const req = http.get(
      `${this.t.origin}${this.t.ssePath(this.o.events, this.o.intervalMs)}`,
      { agent: false, headers: { accept: 'text/event-stream', ...this.t.headers } },
      (res) => {
        let buf = '';
        res.setEncoding('utf8');
        res.once('close', end);
        res.once('error', end);
        if (res.statusCode !== 200) {
          // The gateway's error body names the code (TUNNEL_*): worth more than the status.
          res.on('data', (c: string) => (buf = (buf + c).slice(0, 300)));
          res.once('end', () => this.fail(`status ${res.statusCode}: ${buf}`));
          return;
        }
        res.on('data', (chunk: string) => {
          const now = process.hrtime.bigint();
          buf += chunk;
          let cut: number;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const m = T_FIELD.exec(buf.slice(0, cut));
            buf = buf.slice(cut + 2);
            if (m !== null) onEvent(now, BigInt(m[1]!));
          }
        });
        res.once('end', end);
      },
    );
    req.once('error', (err) => {
      this.fail(err.message);
      end();
    });
    this.requests.push(req);
  }

  result(): SseResult {
    for (const r of this.requests) r.destroy();
    const ttfe = [...this.ttfe];
    // A stream that never got an event counts as infinitely late, so the percentile shows it.
    while (ttfe.length < this.o.streams) ttfe.push(Number.POSITIVE_INFINITY);
    ttfe.sort((a, b) => a - b);
    const latency = [...this.latency].sort((a, b) => a - b);
    return {
      streams: this.o.streams,
      fullyServed: this.fullyServed,
      eventsDelivered: latency.length,
      eventsExpected: this.o.streams * this.o.events,
      ttfeP50: percentile(ttfe, 0.5),
      ttfeP99: percentile(ttfe, 0.99),
      latencyP50: percentile(latency, 0.5),
      latencyP99: percentile(latency, 0.99),
      partlyServed: this.ttfe.length - this.fullyServed,
      errors: this.errors,
      reasons: Object.fromEntries(this.reasons),
    };
  }
}

/** Opens `o.streams` streams through `t` (over `o.rampMs`) and measures them until all have ended or a time limit. */
export function sseLoad(t: Target, o: SseOptions): SseRun {
  let resolveOpen!: (n: number) => void;
  let resolveDone!: () => void;
  const allOpen = new Promise<number>((resolve) => (resolveOpen = resolve));
  const allDone = new Promise<void>((resolve) => (resolveDone = resolve));
  const state = new SseState(t, o, () => resolveOpen(state.openNow), resolveDone);

  const batches = o.rampMs <= 0 ? 1 : Math.max(1, Math.round(o.rampMs / 50));
  const perBatch = Math.ceil(o.streams / batches);
  let opened = 0;
  const ramp = setInterval(() => {
    for (let i = 0; i < perBatch && opened < o.streams; i++, opened++) state.open();
    if (opened >= o.streams) {
      clearInterval(ramp);
      setTimeout(() => resolveOpen(state.openNow), 2_000).unref();
    }
  }, o.rampMs <= 0 ? 0 : 50);

  // A stream still open well after its last event is not going to be served: end the scenario.
  const limitMs = o.rampMs + (o.events - 1) * o.intervalMs + 10_000;
  const limit = new Promise<void>((resolve) => setTimeout(resolve, limitMs).unref());
  const done = Promise.race([allDone, limit]).then(() => {
    clearInterval(ramp);
    resolveOpen(state.openNow);
    return state.result();
  });
  return { allOpen, done };
}
