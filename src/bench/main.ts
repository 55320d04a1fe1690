#!/usr/bin/env node
/**
 * `npm run bench`: the yardstick of issue 10. One upstream process (upstream.ts) is reached
 * directly, through the tunnel (the real CLI: gateway and proxy as child processes, audit trail on)
 * and through each installed peer (`ssh -R`, nginx); the load generators run in this process. The
 * targets take turns in interleaved rounds; the table gives medians over the rounds and ratios to
 * direct, and goes to docs/benchmarks.md (a quick run: to a temp file). See docs/benchmarks.md for
 * what each row measures and the environment variables (options.ts).
 *
 * Everything listens on 127.0.0.1; every child process is ended on exit, on error and on SIGINT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { continuityRun } from './continuity';
import { benchOptions, type BenchOptions } from './options';
import { startClusterTarget } from './cluster';
import { startFloor, startNginx, startSsh } from './peers';
import { Procs } from './procs';
import { render, writeReport, type Context } from './report';
import { postLoad, streamOnce } from './load';
import { capacityRun, idleRss, postRound, restarts, Results, sseRound, streamRound, tunnelConnectionBytes } from './scenarios';
import { directTarget, type Target } from './target';
import { startTunnel, type TunnelTarget } from './tunnel';

const progress = (msg: string): void => void process.stderr.write(`bench: ${msg}\n`);

/** Starts every target; a peer that is missing or fails to start is skipped with the reason. */
async function startTargets(o: BenchOptions, procs: Procs, dir: string, skipped: string[]): Promise<{ targets: Target[]; tunnel: TunnelTarget; upstreamOrigin: string }> {
  const up = await procs.start('upstream', process.execPath, [join(__dirname, 'upstream.js')], { ready: /^UPSTREAM_URL=(\S+)/ });
  const upstreamOrigin = up.match![1]!;
  const upstreamPort = Number(new URL(upstreamOrigin).port);
  const tunnel = await startTunnel({ procs, upstreamOrigin, dir });
  const targets: Target[] = [directTarget(upstreamOrigin), tunnel];
  // The cluster is ours, not a peer: it runs whenever redis-server is installed (.ci/run installs it).
  const cluster = await startClusterTarget(procs, upstreamOrigin, dir).catch((err: Error) => {
    skipped.push(`cluster (failed to start: ${err.message.split('\n')[0]})`);
    return undefined;
  });
  if (cluster === null) skipped.push('cluster (redis-server not installed)');
  else if (cluster) targets.push(cluster);
  // The Node floor is ours too (floor-hop.ts): what the same parts cost with none of the tunnel's work.
  targets.push(await startFloor(procs, upstreamOrigin));
  const peers: Array<[string, () => Promise<Target | null>]> = [
    ['ssh -R', () => startSsh(procs, upstreamPort, dir)],
    ['nginx', () => startNginx(procs, upstreamPort, dir)],
  ];
  for (const [name, start] of peers) {
    if (!o.peers) {
      skipped.push(`${name} (BENCH_PEERS=0)`);
      continue;
    }
    try {
      const t = await start();
      if (t === null) skipped.push(`${name} (not installed)`);
      else targets.push(t);
    } catch (err) {
      skipped.push(`${name} (failed to start: ${(err as Error).message.split('\n')[0]})`);
    }
  }
  return { targets, tunnel, upstreamOrigin };
}

/** Rotates the order each round, so no target always runs first after a pause. */
const turn = <T>(list: T[], round: number): T[] => list.map((_, i) => list[(i + round) % list.length]!);

async function measure(o: BenchOptions, procs: Procs, targets: Target[], tunnel: TunnelTarget, r: Results): Promise<void> {
  progress(`idle RSS: 1 s after start-up and ${o.idleSettleMs / 1000} s later`);
  await idleRss(targets, o.idleSettleMs, r);
  progress('RSS per idle tunnel connection');
  await tunnelConnectionBytes(tunnel, procs, r, o.idleSettleMs);
  for (const t of targets) {
    // Twice the measured size: a fresh gateway's heap and JIT take a few hundred MiB to settle.
    const warmBytes = 2 * o.streamBytes;
    progress(`warm-up ${t.name}: ${o.warmupSeconds} s of POSTs at c=16 and one ${warmBytes / 2 ** 20} MiB response, not measured`);
    await postLoad(t, 16, o.warmupSeconds);
    await streamOnce(t, warmBytes);
  }
  for (let round = 0; round < o.rounds; round++) {
    const order = turn(targets, round);
    for (const t of order) {
      progress(`round ${round + 1}/${o.rounds}: POST c=1/16/128 ${t.name}`);
      await postRound(t, o.postSeconds, r);
    }
    for (const t of order) {
      progress(`round ${round + 1}/${o.rounds}: ${o.streamBytes / 2 ** 20} MiB response ${t.name}`);
      await streamRound(t, o.streamBytes, r);
    }
    for (const t of order) {
      progress(`round ${round + 1}/${o.rounds}: ${o.sse.streams} SSE streams ${t.name}`);
      await sseRound(t, o.sse, 'sse', r);
    }
  }
  for (const t of targets) {
    if (t.restartAgent === undefined && t.restartGateway === undefined) continue;
    progress(`restarts ${t.name}`);
    await restarts(t, o.restarts, r);
  }
  // Capacity: direct as the reference and the tunnel (peers skipped: minutes each at this size).
  // After the restarts: fresh processes, so the RSS per stream is not hidden in a heap grown earlier.
  for (const t of targets.slice(0, 2)) {
    progress(`${o.capacity.streams} SSE streams ${t.name}`);
    await capacityRun(t, o.capacity, r);
  }
}

/** Figures are never checked (the machine is noisy), but a scenario that delivered nothing is broken. */
function brokenScenarios(r: Results, targets: Target[]): string[] {
  const broken: string[] = [];
  for (const t of targets) {
    // A run can be too short for one slow answer on a loaded machine: only no 200 at all is broken.
    if (!['post1.rps', 'post16.rps', 'post128.rps'].some((m) => (r.get(m, t.name) ?? 0) > 0)) broken.push(`${t.name}: no successful POST`);
    if (!((r.get('stream.mbps', t.name) ?? 0) > 0)) broken.push(`${t.name}: no streamed response`);
    if (!((r.get('sse.delivered', t.name) ?? 0) > 0)) broken.push(`${t.name}: no SSE event delivered`);
  }
  return broken;
}

async function main(): Promise<void> {
  const o = benchOptions();
  const procs = new Procs();
  const dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-bench-'));
  const cleanup = async (): Promise<void> => {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      progress(`${signal}: stopping`);
      void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  const startedAt = new Date();
  const skipped: string[] = [];
  try {
    const { targets, tunnel, upstreamOrigin } = await startTargets(o, procs, dir, skipped);
    const r = new Results();
    await measure(o, procs, targets, tunnel, r);
    progress(`rolling restart of two proxy replicas with ${o.continuity.streams} open SSE streams`);
    await continuityRun(procs, upstreamOrigin, dir, o.continuity, r);
    const c: Context = {
      targets: targets.map((t) => t.name),
      groups: Object.fromEntries(targets.map((t) => [t.name, Object.keys(t.pids())])),
      skipped,
      startedAt,
      seconds: (Date.now() - startedAt.getTime()) / 1000,
    };
    const md = render(r, o, c);
    process.stdout.write(`\n${md}\n\n`);
    writeReport(o.out, md);
    progress(`written to ${o.out}`);
    const broken = brokenScenarios(r, targets);
    if (broken.length > 0) throw new Error(`broken scenarios:\n  ${broken.join('\n  ')}`);
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
