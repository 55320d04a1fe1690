/**
 * Bench settings from the environment. `BENCH_QUICK=1` is the short CI version (~1.5 min with every target): one round,
 * short runs, few streams; it never fails on figures, only on errors, and never writes
 * docs/benchmarks.md.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContinuityOptions } from './continuity';
import type { SseOptions } from './sse';

export interface BenchOptions {
  quick: boolean;
  /** Interleaved rounds (every target once per round). */
  rounds: number;
  /** Seconds of each POST run (after a 0.5 s warm-up). */
  postSeconds: number;
  /**
   * When idle RSS is read the second time, in ms after the first (BENCH_IDLE_SETTLE_MS): by then V8's
   * memory reducer (8 s after start-up goes quiet) has returned the young generation start-up grew,
   * which is what an idle process holds for the rest of its life.
   */
  idleSettleMs: number;
  /**
   * Seconds of unmeasured POSTs (c=16) each target gets once before the first round: a process that
   * serves for months runs JIT-compiled code; a fresh Node process spends its first thousands of
   * requests in V8's compilers (the C peers have nothing to warm).
   */
  warmupSeconds: number;
  /** Size of the large streamed response. */
  streamBytes: number;
  sse: SseOptions;
  capacity: SseOptions;
  /** Rolling restart of two proxy replicas under open resumable SSE streams (continuity.ts). */
  continuity: ContinuityOptions;
  /** Restarts of each end measured (median reported). */
  restarts: number;
  /** Run the peers (ssh -R, nginx) when installed. */
  peers: boolean;
  /** Where the markdown goes (BENCH_OUT): docs/benchmarks.md for a full run, a temp file for a quick one. */
  out: string;
}

/**
 * A positive number from the environment (`integer`: a positive integer), or `fallback` when unset.
 * @throws Error naming the variable when the value is not one.
 */
export function envNumber(name: string, fallback: number, integer = false): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  const ok = integer ? Number.isInteger(n) : Number.isFinite(n);
  if (!ok || n <= 0) throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'} (got "${raw}")`);
  return n;
}

export const DOC_PATH = join(__dirname, '..', '..', 'docs', 'benchmarks.md');

export function benchOptions(): BenchOptions {
  const quick = process.env['BENCH_QUICK'] === '1';
  const q = <T>(quickValue: T, full: T): T => (quick ? quickValue : full);
  const out = process.env['BENCH_OUT'] ?? (quick ? join(tmpdir(), `mcp-tunnel-bench-quick-${process.pid}.md`) : DOC_PATH);
  return {
    quick,
    rounds: envNumber('BENCH_ROUNDS', q(1, 2)),
    postSeconds: envNumber('BENCH_SECONDS', q(1, 3)),
    idleSettleMs: envNumber('BENCH_IDLE_SETTLE_MS', q(1_000, 12_000)),
    warmupSeconds: envNumber('BENCH_WARMUP_SECONDS', q(1, 5)),
    streamBytes: envNumber('BENCH_MIB', q(16, 200)) * 1024 * 1024,
    sse: {
      streams: envNumber('BENCH_SSE_STREAMS', q(100, 1000)),
      events: envNumber('BENCH_SSE_EVENTS', q(2, 10)),
      intervalMs: 1000,
      rampMs: 0,
    },
    capacity: {
      streams: envNumber('BENCH_CAPACITY_STREAMS', q(500, 10_000)),
      // Streams outlive the ramp and the 2 s after it, so all are open when their memory is measured.
      events: envNumber('BENCH_CAPACITY_EVENTS', q(4, 10)),
      intervalMs: 1000,
      rampMs: envNumber('BENCH_CAPACITY_RAMP_MS', q(500, 5000)),
    },
    continuity: {
      streams: envNumber('BENCH_CONTINUITY_STREAMS', q(100, 1000), true),
      // The streams must outlive two drains and two proxy starts.
      events: envNumber('BENCH_CONTINUITY_EVENTS', q(40, 60), true),
      intervalMs: 250,
    },
    restarts: envNumber('BENCH_RESTARTS', q(1, 3)),
    peers: process.env['BENCH_PEERS'] !== '0',
    out,
  };
}
