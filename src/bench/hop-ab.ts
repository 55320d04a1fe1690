#!/usr/bin/env node
/**
 * A/B of two builds on the big-stream path (issue 10, third round): `node dist/bench/hop-ab.js
 * <distA> <distB>` (each a built `dist/` folder, e.g. the branch and a `main` built next to it)
 * alternates A, B, A, B for `BENCH_AB_ROUNDS` (2) rounds. Each turn starts that build's upstream and
 * tunnel (its own `bench/tunnel.js`, so its own CLI), GETs `BENCH_AB_RUNS` (5) responses of
 * `BENCH_MIB` (200) MiB and prints the medians of the warm runs (the first is dropped): MB/s, CPU ms
 * of gateway and proxy per response (/proc/<pid>/stat) and their voluntary context switches
 * (/proc/<pid>/status), the figure least moved by other load on a shared machine. With
 * `BENCH_AB_SSE=<n>` each turn then opens n SSE streams at once (2 events) and prints time to first
 * event and event latency.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { streamOnce } from './load';
import { envNumber } from './options';
import { Procs, cpuSeconds } from './procs';
import { sseLoad } from './sse';
import { median } from './stats';
import type { startTunnel as StartTunnel } from './tunnel';

function voluntarySwitches(pid: number): number {
  const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Run {
  mbs: number;
  gatewayMs: number;
  proxyMs: number;
  gatewaySwitches: number;
  proxySwitches: number;
}

async function turn(dist: string): Promise<string> {
  // The build's own tunnel module (its own CLI); both builds export the same startTunnel. A path
  // known only at run time: require, not import.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startTunnel } = require(join(dist, 'bench', 'tunnel.js')) as { startTunnel: typeof StartTunnel };
  const procs = new Procs();
  const dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-ab-'));
  try {
    const up = await procs.start('upstream', process.execPath, [join(dist, 'bench', 'upstream.js')], { ready: /^UPSTREAM_URL=(\S+)/ });
    const tunnel = await startTunnel({ procs, upstreamOrigin: up.match![1]!, dir });
    const { gateway = [], proxy = [] } = tunnel.pids();
    const bytes = envNumber('BENCH_MIB', 200) * 2 ** 20;
    const runs: Run[] = [];
    for (let i = 0; i < envNumber('BENCH_AB_RUNS', 5, true); i++) {
      const g0 = cpuSeconds(gateway);
      const p0 = cpuSeconds(proxy);
      const gs0 = voluntarySwitches(gateway[0]!);
      const ps0 = voluntarySwitches(proxy[0]!);
      const mbs = await streamOnce(tunnel, bytes);
      runs.push({
        mbs,
        gatewayMs: (cpuSeconds(gateway) - g0) * 1000,
        proxyMs: (cpuSeconds(proxy) - p0) * 1000,
        gatewaySwitches: voluntarySwitches(gateway[0]!) - gs0,
        proxySwitches: voluntarySwitches(proxy[0]!) - ps0,
      });
    }
    const warm = runs.length > 1 ? runs.slice(1) : runs;
    const med = (k: keyof Run): number => median(warm.map((r) => r[k]));
    let line =
      `${med('mbs').toFixed(0)} MB/s, CPU ms gateway ${med('gatewayMs').toFixed(0)} + proxy ${med('proxyMs').toFixed(0)}, ` +
      `voluntary switches gateway ${med('gatewaySwitches')} / proxy ${med('proxySwitches')} (all MB/s: ${runs.map((r) => r.mbs.toFixed(0)).join(' ')})`;
    const sse = envNumber('BENCH_AB_SSE', 0, true);
    if (sse > 0) {
      const r = await sseLoad(tunnel, { streams: sse, events: 2, intervalMs: 1000, rampMs: 0 }).done;
      line += `; SSE ${r.fullyServed}/${sse}: first event p50 ${r.ttfeP50.toFixed(0)} / p99 ${r.ttfeP99.toFixed(0)} ms, latency p50 ${r.latencyP50.toFixed(2)} / p99 ${r.latencyP99.toFixed(1)} ms`;
    }
    await tunnel.close();
    return line;
  } finally {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const dists = process.argv.slice(2).map((d) => resolve(d));
  if (dists.length === 0) throw new Error('usage: node dist/bench/hop-ab.js <distA> [<distB> ...]');
  for (let round = 1; round <= envNumber('BENCH_AB_ROUNDS', 2, true); round++) {
    for (const dist of dists) {
      const name = `${basename(dirname(dist))}/${basename(dist)}`;
      process.stdout.write(`round ${round} ${name}: ${await turn(dist)}\n`);
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
