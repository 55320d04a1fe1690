#!/usr/bin/env node
/**
 * `npm run bench:cpu`: the quick yardstick for the hot path (issue 10 part 2). Starts the upstream and
 * the tunnel exactly as `npm run bench` does (real CLI processes, audit trail on), then runs
 * `BENCH_CPU_RUNS` (3) POST runs at c=128 of `BENCH_SECONDS` (3) and one at c=1 and prints, for each, the CPU ms of
 * gateway + proxy per 1,000 POSTs (from /proc/<pid>/stat: far less noisy than req/s on a shared
 * machine), the req/s and the p50/p99; then one 200 MiB (`BENCH_MIB`) response. With
 * `BENCH_CPU_PROF=<dir>` both CLI processes run under `node --cpu-prof` and write their profiles
 * there when they stop (read them with `node dist/bench/prof-top.js <file>`); with
 * `BENCH_HEAP_PROF=<dir>` they run under `node --heap-prof` (sampled allocations still live when
 * the process stops, by call site: what holds its memory; `node dist/bench/prof-top.js <file>.heapprofile`).
 * `BENCH_NODE_ARGS` (space-separated) adds Node or V8 flags to both processes, to try one (e.g.
 * `--single-threaded-gc`) against the default in alternated runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postLoad, streamOnce } from './load';
import { envNumber } from './options';
import { Procs, rssBytes } from './procs';
import { startTunnel } from './tunnel';

async function main(): Promise<void> {
  const procs = new Procs();
  const dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-cpu-'));
  const prof = process.env['BENCH_CPU_PROF'];
  const heap = process.env['BENCH_HEAP_PROF'];
  const nodeArgs = [
    ...(process.env['BENCH_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== ''),
    ...(prof === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${prof}`]),
    ...(heap === undefined ? [] : ['--heap-prof', `--heap-prof-dir=${heap}`]),
  ];
  try {
    const up = await procs.start('upstream', process.execPath, [join(__dirname, 'upstream.js')], { ready: /^UPSTREAM_URL=(\S+)/ });
    const tunnel = await startTunnel({ procs, upstreamOrigin: up.match![1]!, dir, nodeArgs });
    const pids = tunnel.pids();
    const rss = (g: string): string => `${(rssBytes(pids[g] ?? []) / 2 ** 20).toFixed(1)} MiB`;
    process.stdout.write(`idle RSS: gateway ${rss('gateway')}, proxy ${rss('proxy')}\n`);
    const seconds = envNumber('BENCH_SECONDS', 3);
    for (let i = 0; i < envNumber('BENCH_CPU_RUNS', 3, true); i++) {
      const p = await postLoad(tunnel, envNumber('BENCH_CPU_CONNECTIONS', 128, true), seconds);
      process.stdout.write(
        `c=128: ${p.cpuMsPer1000?.toFixed(1)} CPU ms/1000, ${p.rps.toFixed(0)} req/s, p50 ${p.p50.toFixed(2)} / p99 ${p.p99.toFixed(2)} ms, ${p.failures} failures\n`,
      );
    }
    const c1 = await postLoad(tunnel, 1, seconds);
    process.stdout.write(
      `c=1: ${c1.cpuMsPer1000?.toFixed(1)} CPU ms/1000, ${c1.rps.toFixed(0)} req/s, p50 ${c1.p50.toFixed(2)} / p99 ${c1.p99.toFixed(2)} ms\n`,
    );
    const mib = envNumber('BENCH_MIB', 200);
    process.stdout.write(`${mib} MiB: ${(await streamOnce(tunnel, mib * 2 ** 20)).toFixed(0)} MB/s\n`);
    await tunnel.close();
  } finally {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
