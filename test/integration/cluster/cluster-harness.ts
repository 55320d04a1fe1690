/**
 * Cluster test parts: a real redis-server child on a free loopback port (each suite owns its
 * Redis), a small round-robin TCP balancer, and gateway replicas started in this process.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { GatewayConfig } from '../../../src/config/types';
import { startGateway, type RunningGateway } from '../../../src/gateway';
import { startStreamableUpstream, type StreamableUpstreamHandle, type StreamableUpstreamOptions } from '../../fixtures/mcp-upstream';
import { spawnProcess, waitFor, type Resources, type SpawnedProcess } from '../../helpers';
import { startHarness, type Harness, type LogCapture } from '../../helpers/tunnel-harness';
import { rule } from '../policy/helpers';

/** True when redis-server is installed. In CI its absence fails the suite (never a silent skip). */
export function redisAvailable(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) throw new Error('redis-server is not installed: the cluster tests need it (apt-get install -y redis-server; .ci/run installs it)');
    console.warn('\n*** SKIPPING the cluster tests: redis-server is not installed (apt-get install -y redis-server) ***\n');
    return false;
  }
}

/** A port free now on 127.0.0.1 (for a child that must be told its port). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface RedisChild {
  url: string;
  port: number;
  proc: SpawnedProcess;
  close(): Promise<void>;
}

/** Starts redis-server on `port` (a free one by default), no persistence; resolves once it accepts. */
export async function startRedis(port?: number): Promise<RedisChild> {
  const p = port ?? (await freePort());
  const proc = spawnProcess('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await proc.waitForLine(/Ready to accept connections/);
  return { url: `redis://127.0.0.1:${p}/0`, port: p, proc, close: async () => void (await proc.stop({ signal: 'SIGKILL' })) };
}

/** Round-robin TCP balancer over `ports` (a replica that refuses is skipped). */
export interface Balancer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** `pick(n, ports)` chooses the port of the n-th connection (default: round robin). */
export async function startBalancer(ports: () => number[], pick: (n: number, ports: number[]) => number = (n, p) => p[n % p.length]!): Promise<Balancer> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    const port = pick(next++, ports());
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(upstream);
    upstream.once('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    upstream.once('error', () => client.destroy());
    client.once('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A cluster secret file in a fresh temp folder (removed by `cleanup`). */
export function clusterSecretFile(): { file: string; secret: string; cleanup(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-cluster-'));
  const secret = randomBytes(32).toString('base64url');
  const file = path.join(dir, 'cluster.secret');
  fs.writeFileSync(file, `${secret}\n`);
  return { file, secret, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** `base` with a cluster section for a replica whose hop listener is on `hopPort`. */
export function replicaConfig(base: GatewayConfig, redisUrl: string, secretFile: string, hopPort: number): GatewayConfig {
  const c = structuredClone(base);
  c.listen = { host: '127.0.0.1', port: 0 };
  c.cluster = { redis: redisUrl, advertise: `http://127.0.0.1:${hopPort}`, listen: `127.0.0.1:${hopPort}`, secretFile };
  return c;
}

/** Starts one more replica with `config`, logging into the harness's captures. */
export function startReplica(config: GatewayConfig, logs: LogCapture, audit: LogCapture): Promise<RunningGateway> {
  return startGateway(config, { logger: logs.logger, auditLogger: audit.logger });
}

export interface ClusterOptions {
  /** Replicas in all (replica 0 is the harness's gateway, where its proxy connects); default 3. */
  replicas?: number;
  upstream?: StreamableUpstreamOptions;
  /** Start the harness's proxy on replica 0 (default true). */
  startProxy?: boolean;
  /** Changes to the base gateway config (all replicas share it, each with its own cluster section). */
  gateway?: (c: GatewayConfig) => void;
  /** Starts the Redis the replicas share (default: one redis-server; redis-cluster.ts starts a Redis Cluster). */
  redis?: () => Promise<RedisChild>;
}

export interface Cluster {
  h: Harness;
  /** Replica 0 is `h.gateway`. */
  replicas: RunningGateway[];
  redis: RedisChild;
  upstream: StreamableUpstreamHandle;
  /** The cluster secret file every replica reads. */
  secretFile: string;
}

/**
 * A Redis child, an upstream, the tunnel harness as replica 0 and more replicas on the same config,
 * all registered in `res`; resolves once every replica sees every other one.
 */
export async function startCluster(res: Resources, opts: ClusterOptions = {}): Promise<Cluster> {
  const redis = await (opts.redis ?? startRedis)();
  const cluster: Partial<Cluster> = { redis };
  res.add({ close: () => cluster.redis!.close() });
  const secret = clusterSecretFile();
  res.add({ close: async () => secret.cleanup() });
  const upstream = res.add(await startStreamableUpstream(opts.upstream));
  const hop0 = await freePort();
  const h = res.add(
    await startHarness({
      servers: [{ name: 'notes', url: upstream.url }],
      startProxy: opts.startProxy ?? true,
      gateway: (c) => {
        Object.assign(c, replicaConfig(c, redis.url, secret.file, hop0));
        opts.gateway?.(c);
      },
    }),
  );
  const replicas = [h.gateway];
  for (let i = 1; i < (opts.replicas ?? 3); i++) {
    const g = await startReplica(replicaConfig(h.gatewayConfig, redis.url, secret.file, await freePort()), h.logs, h.gatewayAudit);
    res.add({ close: () => g.close(0) });
    replicas.push(g);
  }
  await waitFor(() => replicas.every((g) => g.clusterSnapshot()?.redis === 'ok' && g.clusterSnapshot()?.replicas.length === replicas.length), { message: 'every replica sees every other one' });
  return Object.assign(cluster, { h, replicas, upstream, secretFile: secret.file }) as Cluster;
}

/** One `tools/call` of `echo` on replica `g` (for a stateless upstream: no session needed); resolves with the HTTP status. */
export async function postEcho(g: RunningGateway, apiKey: string, id: number): Promise<number> {
  const r = await fetch(`${g.url}/mcp/notes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }),
  });
  await r.arrayBuffer();
  return r.status;
}

/**
 * Cluster options for the rate-limit tests: a stateless upstream (plain POSTs, no session) and one
 * rule limiting alice to a burst of `burst` with practically no refill during a test.
 */
export function rateLimitedCluster(burst: number): Pick<ClusterOptions, 'upstream' | 'gateway'> {
  return {
    upstream: { stateless: true, enableJsonResponse: true },
    gateway: (c) => void (c.policy = { rules: [rule({ name: 'alice-rate', rateLimit: { ratePerSec: 0.001, burst } })], inspectLimitBytes: 64 * 1024 }),
  };
}
