/**
 * The cluster target (docs/cluster.md, issue 14): a redis-server child, three gateway replicas
 * (the real CLI) sharing it, and one proxy connected to replica 0 only. Clients call replica 1, so
 * every request crosses the internal hop (replica 1 → replica 0 → proxy): the table's "cluster
 * (hop)" column against "tunnel" is the hop's cost. Skipped when redis-server is not installed.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findProgram } from './peers';
import { delay, freePort, type Procs, type Started } from './procs';
import { MALLOC_ENV } from './shipped-env';
import { postOnce, type Target } from './target';
import { writeBenchGatewayConfig } from './tunnel';

const CLI = join(__dirname, '..', 'cli', 'main.js');
const REPLICAS = 3;

/** A bench cluster's shared parts: its redis-server child and each replica's `MCP_TUNNEL_CLUSTER_*` env. */
export interface BenchRedis {
  redis: Started;
  /** The cluster settings of a replica whose internal hop listens on `hopPort`. */
  replicaEnv(hopPort: number): Record<string, string>;
}

/**
 * A throwaway redis-server child on a free loopback port (no persistence) and a cluster secret file
 * in `dir`; null when redis-server is not installed.
 */
export async function startBenchRedis(procs: Procs, dir: string): Promise<BenchRedis | null> {
  const redisServer = findProgram('redis-server');
  if (redisServer === null) return null;
  const redisPort = await freePort();
  const redis = await procs.start('redis', redisServer, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { ready: /Ready to accept connections/ });
  const clusterSecret = join(dir, 'cluster.secret');
  writeFileSync(clusterSecret, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return {
    redis,
    replicaEnv: (hopPort) => ({
      MCP_TUNNEL_CLUSTER_REDIS: `redis://127.0.0.1:${redisPort}/0`,
      MCP_TUNNEL_CLUSTER_ADVERTISE: `http://127.0.0.1:${hopPort}`,
      MCP_TUNNEL_CLUSTER_LISTEN: `127.0.0.1:${hopPort}`,
      MCP_TUNNEL_CLUSTER_SECRET_FILE: clusterSecret,
    }),
  };
}

/** The cluster as a target, or null when redis-server is missing. */
export async function startClusterTarget(procs: Procs, upstreamOrigin: string, dir: string): Promise<Target | null> {
  const shared = await startBenchRedis(procs, dir);
  if (shared === null) return null;
  const { redis } = shared;
  const secret = randomBytes(32).toString('base64url');
  const apiKey = randomBytes(24).toString('base64url');
  const gateways: Started[] = [];
  const ports: number[] = [];
  for (let i = 0; i < REPLICAS; i++) {
    const port = await freePort();
    const hop = await freePort();
    const cfg = writeBenchGatewayConfig(join(dir, `cluster-gateway-${i}.json`), { port, secret, apiKey, upstreamOrigin });
    const env = {
      ...MALLOC_ENV,
      MCP_TUNNEL_LOG_LEVEL: 'info',
      MCP_TUNNEL_AUDIT: join(dir, 'log', `audit-cluster-${i}.log`),
      ...shared.replicaEnv(hop),
    };
    gateways.push(await procs.start(`cluster-gateway-${i}`, process.execPath, [CLI, 'gateway', '--config', cfg], { env, ready: /gateway listening/ }));
    ports.push(port);
  }
  const proxy = await procs.start('cluster-proxy', process.execPath, [CLI, 'proxy'], {
    env: { ...MALLOC_ENV, MCP_TUNNEL_LOG_LEVEL: 'info', MCP_TUNNEL_AUDIT: join(dir, 'log', 'audit-cluster-proxy.log'), MCP_TUNNEL_URL: `ws://127.0.0.1:${ports[0]!}/tunnel/bench`, MCP_TUNNEL_SECRET: secret, MCP_TUNNEL_CONNECTIONS: '2' },
    ready: /tunnel connected and authenticated/,
    readyCount: 2,
  });
  const target: Target = {
    name: 'cluster (hop)',
    origin: `http://127.0.0.1:${ports[1]!}`,
    postPath: '/mcp/bench',
    bytesPath: (n) => `/mcp/bench-bytes?n=${n}`,
    ssePath: (events, intervalMs) => `/mcp/bench-sse?events=${events}&intervalMs=${intervalMs}`,
    headers: { authorization: `Bearer ${apiKey}` },
    pids: () => ({ gateway: gateways.map((g) => g.pid), proxy: [proxy.pid] }),
    async close() {
      await procs.stop(proxy);
      for (const g of gateways) await procs.stop(g);
      await procs.stop(redis);
    },
  };
  // Presence is refreshed every second: wait until replica 1 has its hops (the first requests would otherwise wait).
  await waitServed(target);
  return target;
}

/** Polls one POST until it is answered 200 (the hop is open), at most 15 s. */
async function waitServed(t: Target): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if ((await postOnce(t).catch(() => 0)) === 200) return;
    await delay(100);
  }
  throw new Error('the cluster replica never answered through the hop');
}
