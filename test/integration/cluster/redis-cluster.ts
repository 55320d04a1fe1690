/**
 * A real Redis Cluster for the tests: three `redis-server --cluster-enabled yes` children on free
 * loopback ports (cluster mode needs each node told its port, and its bus port), joined with
 * `redis-cli --cluster create` (three masters, no replicas).
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { spawnProcess, waitFor } from '../../helpers';
import { freePort, redisAvailable, type RedisChild } from './cluster-harness';

const run = promisify(execFile);

/** True when redis-server and redis-cli are installed (the Debian package `redis-server` has both). */
export function redisClusterAvailable(): boolean {
  if (!redisAvailable()) return false;
  try {
    execFileSync('redis-cli', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env.CI) throw new Error('redis-cli is not installed: the Redis Cluster test needs it (apt-get install -y redis-server)');
    console.warn('\n*** SKIPPING the Redis Cluster test: redis-cli is not installed ***\n');
    return false;
  }
}

/** The cluster's nodes; `url` is the `redis-cluster://` URL naming them all, `port`/`proc` the first node's. */
export interface RedisClusterChild extends RedisChild {
  nodes: RedisChild[];
  /**
   * Saves every node's data (`SAVE`), kills every node, then starts them again on the same ports
   * with the same cluster configuration and data; resolves once the cluster is `ok` again.
   * `whileDown` runs with every node gone.
   */
  outage(whileDown?: () => Promise<void>): Promise<void>;
}

/** Starts `count` (3: the fewest masters Redis Cluster accepts) nodes and creates the cluster; resolves once every node reports `cluster_state:ok`. */
export async function startRedisCluster(count = 3): Promise<RedisClusterChild> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-redis-cluster-'));
  const nodes: RedisChild[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) nodes.push(await startNode(dir, await freePort(), await freePort()));
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await waitFor(async () => (await Promise.all(nodes.map((n) => clusterState(n.port)))).every((s) => s === 'ok'), { timeoutMs: 15_000, intervalMs: 100, message: 'Redis Cluster state ok on every node' });
  } catch (err) {
    await close();
    throw err;
  }
  const ports = nodes.map((n) => n.port);
  const busPorts = ports.map((p) => busPortOf.get(p)!);
  const outage = async (whileDown?: () => Promise<void>): Promise<void> => {
    for (const port of ports) await run('redis-cli', ['-p', String(port), 'save']);
    await Promise.all(nodes.map((n) => n.close()));
    await whileDown?.();
    for (let i = 0; i < ports.length; i++) nodes[i] = await startNode(dir, ports[i]!, busPorts[i]!);
    await waitFor(async () => (await Promise.all(nodes.map((n) => clusterState(n.port)))).every((s) => s === 'ok'), { timeoutMs: 30_000, intervalMs: 100, message: 'Redis Cluster state ok again on every node' });
  };
  return { url: `redis-cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`, port: nodes[0]!.port, proc: nodes[0]!.proc, nodes, close, outage };
}

/** Each node's cluster bus port, by node port (a restarted node needs the same one). */
const busPortOf = new Map<number, number>();

async function startNode(dir: string, port: number, busPort: number): Promise<RedisChild> {
  busPortOf.set(port, busPort);
  const args = ['--port', String(port), '--cluster-port', String(busPort), '--bind', '127.0.0.1', '--cluster-enabled', 'yes'];
  // Each node its own data file (they share `dir`): `outage` saves them and loads them back.
  args.push('--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--dir', dir, '--dbfilename', `dump-${port}.rdb`, '--save', '', '--appendonly', 'no');
  const proc = spawnProcess('redis-server', args);
  await proc.waitForLine(/Ready to accept connections/);
  return { url: `redis://127.0.0.1:${port}/0`, port, proc, close: async () => void (await proc.stop({ signal: 'SIGKILL' })) };
}

async function clusterState(port: number): Promise<string | undefined> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']);
  return /cluster_state:(\w+)/.exec(stdout)?.[1];
}
