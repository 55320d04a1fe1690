/**
 * The workloads, each run against one target and recorded in {@link Results} (one value per round;
 * the report takes medians). Scenarios never run in parallel with each other.
 */
import { postLoad, streamOnce } from './load';
import { delay, rssBytes, RssPeaks, type Procs, type Started } from './procs';

import { sseLoad, type SseOptions, type SseResult } from './sse';
import { median } from './stats';
import { postOnce, type Target } from './target';
import type { TunnelTarget } from './tunnel';

/** Every measured value, by metric and target, one per round. */
export class Results {
  private readonly values = new Map<string, Map<string, number[]>>();
  /** What the table cannot show (why streams failed), printed under it. */
  readonly notes: string[] = [];

  add(metric: string, target: string, value: number): void {
    const byTarget = this.values.get(metric) ?? new Map<string, number[]>();
    this.values.set(metric, byTarget);
    byTarget.set(target, [...(byTarget.get(target) ?? []), value]);
  }

  /** Median over rounds; undefined when not measured. */
  get(metric: string, target: string): number | undefined {
    const v = this.values.get(metric)?.get(target);
    return v === undefined ? undefined : median(v);
  }

  /** The metrics measured for `target` (e.g. `idle:gateway`, `idle:proxy`). */
  metrics(target: string): string[] {
    return [...this.values].filter(([, byTarget]) => byTarget.has(target)).map(([metric]) => metric);
  }

  /** Sum over rounds (failure counts). */
  sum(metric: string, target: string): number {
    return (this.values.get(metric)?.get(target) ?? []).reduce((a, b) => a + b, 0);
  }
}

export const POST_CONCURRENCY = [1, 16, 128] as const;

/** 16-connection proxies started for the per-connection figure (4 × 16 stays under the gateway's connect-rate limit). */
const EXTRA_PROXIES = 4;

/** POST ~1 KB at each concurrency: req/s, p50, p99, failures, and the hop's CPU per 1,000 at c=128. */
export async function postRound(t: Target, seconds: number, r: Results): Promise<void> {
  for (const c of POST_CONCURRENCY) {
    const p = await postLoad(t, c, seconds);
    r.add(`post${c}.rps`, t.name, p.rps);
    r.add(`post${c}.p50`, t.name, p.p50);
    r.add(`post${c}.p99`, t.name, p.p99);
    r.add(`post${c}.fail`, t.name, p.failures);
    if (p.failures > 0) {
      const kinds = Object.entries(p.failureKinds).map(([kind, n]) => `${n} × ${kind}`);
      const text = `POST c=${c}, ${t.name}: ${p.failures} failed (${kinds.join('; ')})`;
      r.notes.push(text);
      console.error(`  ${text}`);
    }
    if (c === 128 && p.cpuMsPer1000 !== null) r.add('post128.cpu', t.name, p.cpuMsPer1000);
  }
}

/** One large streamed response: MB/s. */
export async function streamRound(t: Target, bytes: number, r: Results): Promise<void> {
  r.add('stream.mbps', t.name, await streamOnce(t, bytes));
}

/** Sum of a group map's values. */
const total = (groups: Record<string, number>): number => Object.values(groups).reduce((a, b) => a + b, 0);

/** Concurrent SSE streams: delivery, time to first event, event latency, peak RSS of each side. */
export async function sseRound(t: Target, o: SseOptions, prefix: string, r: Results): Promise<void> {
  const peaks = new RssPeaks(() => t.pids());
  const run = sseLoad(t, o);
  const s = await run.done;
  const peak = peaks.stop();
  r.add(`${prefix}.served`, t.name, s.fullyServed);
  r.add(`${prefix}.delivered`, t.name, (100 * s.eventsDelivered) / s.eventsExpected);
  r.add(`${prefix}.ttfe99`, t.name, s.ttfeP99);
  r.add(`${prefix}.lat50`, t.name, s.latencyP50);
  r.add(`${prefix}.lat99`, t.name, s.latencyP99);
  r.add(`${prefix}.errors`, t.name, s.errors);
  for (const [g, bytes] of Object.entries(peak)) r.add(`${prefix}.peak:${g}`, t.name, bytes);
  if (Object.keys(peak).length > 0) r.add(`${prefix}.peak`, t.name, total(peak));
  note(r, t, `${o.streams} SSE streams`, s);
}

/** A note when some streams were not fully served: how many got some or no events, and why they failed. */
function note(r: Results, t: Target, what: string, s: SseResult): void {
  if (s.fullyServed === s.streams) return;
  const none = s.streams - s.fullyServed - s.partlyServed;
  const reasons = Object.entries(s.reasons).map(([why, n]) => `${n} × ${why}`);
  const text = `${what}, ${t.name}: ${s.fullyServed} got every event, ${s.partlyServed} some, ${none} none` +
    (reasons.length > 0 ? `; failed: ${reasons.join('; ')}` : '');
  r.notes.push(text);
  console.error(`  ${text}`);
}

/**
 * The capacity run: `o.streams` streams (opened over `o.rampMs`), delivery like {@link sseRound},
 * plus bytes per open stream on each side: RSS with every stream open minus RSS before, over the
 * number of open streams.
 */
export async function capacityRun(t: Target, o: SseOptions, r: Results): Promise<void> {
  const before = Object.fromEntries(Object.entries(t.pids()).map(([g, pids]) => [g, rssBytes(pids)]));
  const run = sseLoad(t, o);
  const open = await run.allOpen;
  if (open > 0) {
    for (const [g, pids] of Object.entries(t.pids())) r.add(`cap.perStream:${g}`, t.name, (rssBytes(pids) - (before[g] ?? 0)) / open);
  }
  const s = await run.done;
  r.add('cap.served', t.name, s.fullyServed);
  r.add('cap.open', t.name, open);
  r.add('cap.ttfe99', t.name, s.ttfeP99);
  note(r, t, `${o.streams} SSE streams (capacity)`, s);
}

/**
 * RSS of each side after start-up and a few requests: 1 s later (`idle`), and again `settleMs` after
 * that (`idleSettled`), once V8's memory reducer has shrunk the young generation start-up grew (it
 * runs ~8 s after a process goes quiet). All targets are read in each pass, so the wait is paid once.
 */
export async function idleRss(targets: Target[], settleMs: number, r: Results): Promise<void> {
  for (const t of targets) for (let i = 0; i < 3; i++) await postOnce(t);
  await delay(1_000);
  for (const t of targets) for (const [g, pids] of Object.entries(t.pids())) r.add(`idle:${g}`, t.name, rssBytes(pids));
  await delay(settleMs);
  for (const t of targets) for (const [g, pids] of Object.entries(t.pids())) r.add(`idleSettled:${g}`, t.name, rssBytes(pids));
}

/**
 * Bytes per idle tunnel connection: extra proxies on the same tunnel, one with 1 connection and
 * {@link EXTRA_PROXIES} with 16. Gateway side: its RSS growth over all their connections; proxy
 * side: the mean RSS of a 16-connection proxy minus the 1-connection one's, over 15. Process-to-process
 * noise (a few hundred KiB) makes the proxy figure rough.
 */
export async function tunnelConnectionBytes(t: TunnelTarget, procs: Procs, r: Results, settleMs: number): Promise<void> {
  const gw = t.pids()['gateway'] ?? [];
  const gw0 = rssBytes(gw);
  const one = await t.extraProxy(1);
  const many: Started[] = [];
  // One after the other: the gateway admits 16 unauthenticated connections per address at a time.
  for (let i = 0; i < EXTRA_PROXIES; i++) many.push(await t.extraProxy(16));
  // Read once settled, as the idle rows are: 1 s after start-up a proxy that set up 16 connections
  // still holds the young generation that set-up grew (~3 MiB, then ~1 MiB settled).
  await delay(settleMs);
  r.add('conn:gateway', t.name, (rssBytes(gw) - gw0) / (1 + 16 * EXTRA_PROXIES));
  const meanMany = many.reduce((sum, s) => sum + rssBytes([s.pid]), 0) / many.length;
  r.add('conn:proxy', t.name, (meanMany - rssBytes([one.pid])) / 15);
  for (const s of [...many, one]) await procs.stop(s);
}

/** Restart → first successful request, `times` times for each end the target can restart. */
export async function restarts(t: Target, times: number, r: Results): Promise<void> {
  for (let i = 0; i < times; i++) {
    if (t.restartAgent) r.add('restart.agent', t.name, await t.restartAgent());
    if (t.restartGateway) r.add('restart.gateway', t.name, await t.restartGateway());
  }
}
