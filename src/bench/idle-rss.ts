#!/usr/bin/env node
/**
 * `npm run bench:idle-rss`: idle RSS of a single gateway next to one cluster replica (issue 14), the
 * real CLI with the bench's gateway configuration and no proxy, started side by side with a
 * redis-server child for the replica. Prints each one's VmRSS `BENCH_IDLE_EARLY_MS` (3,000) after it
 * is listening, and again `BENCH_IDLE_LATE_MS` (40,000) after: by then V8's memory reducer has run
 * and returned the young generation that start-up grew (docs/cluster.md, "Memory"). `BENCH_RUNS`
 * (3) pairs, one after the other; skipped when redis-server is not installed.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envNumber } from './options';
import { startBenchRedis } from './cluster';
import { Procs, delay, freePort, rssBytes, type Started } from './procs';
import { MALLOC_ENV } from './shipped-env';
import { writeBenchGatewayConfig } from './tunnel';

const CLI = join(__dirname, '..', 'cli', 'main.js');
const MiB = (pid: number): number => rssBytes([pid]) / 2 ** 20;

async function gateway(procs: Procs, dir: string, name: string, env: Record<string, string>): Promise<Started> {
  const secret = randomBytes(32).toString('base64url');
  const cfg = writeBenchGatewayConfig(join(dir, `${name}.json`), { port: await freePort(), secret, apiKey: randomBytes(24).toString('base64url'), upstreamOrigin: 'http://127.0.0.1:9' });
  return procs.start(name, process.execPath, [CLI, 'gateway', '--config', cfg], { env: { ...MALLOC_ENV, MCP_TUNNEL_LOG_LEVEL: 'info', MCP_TUNNEL_AUDIT: join(dir, `audit-${name}.log`), ...env }, ready: /gateway listening/ });
}

async function main(): Promise<void> {
  const procs = new Procs();
  const dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-idle-rss-'));
  const early = envNumber('BENCH_IDLE_EARLY_MS', 3_000);
  const late = envNumber('BENCH_IDLE_LATE_MS', 40_000);
  try {
    const shared = await startBenchRedis(procs, dir);
    if (shared === null) {
      process.stdout.write('skipped: redis-server is not installed\n');
      return;
    }
    process.stdout.write(`run  single +${early / 1000}s  replica +${early / 1000}s  single +${late / 1000}s  replica +${late / 1000}s (MiB)\n`);
    for (let run = 1; run <= envNumber('BENCH_RUNS', 3, true); run++) {
      const hop = await freePort();
      const [single, replica] = await Promise.all([
        gateway(procs, dir, `single-${run}`, {}),
        gateway(procs, dir, `replica-${run}`, shared.replicaEnv(hop)),
      ]);
      await delay(early);
      const first = [MiB(single.pid), MiB(replica.pid)];
      await delay(late - early);
      const second = [MiB(single.pid), MiB(replica.pid)];
      process.stdout.write(`${String(run).padEnd(5)}${[...first, ...second].map((v) => v.toFixed(1).padStart(12)).join('')}\n`);
      await Promise.all([procs.stop(single), procs.stop(replica)]);
    }
  } finally {
    await procs.stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
