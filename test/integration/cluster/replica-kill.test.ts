/**
 * `kill -9` of a gateway replica (a CLI child) under load: only the requests in flight on it are
 * lost. Two proxies hold one connection each, on replicas 0 and 1; clients call replica 2, which
 * reaches both through the internal hop. Replica 0 dies; its hop breaks, replica 2 stops picking
 * it as soon as it reads the close, and every later request goes through replica 1. A request that
 * replica 2 routed in the instant between the kill and reading the close was in flight on the dead
 * replica too (nothing tells a sender that bytes it wrote were never read), so the bound is the
 * moment replica 2 logged the loss, not the moment of the kill.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startStreamableUpstream } from '../../fixtures/mcp-upstream';
import { Resources, stopProcessesAfterEach, waitFor, type SpawnedProcess } from '../../helpers';
import { newCredentials, spawnGateway, spawnProxy, writeGatewayConfig } from '../faults/helpers';
import { clusterSecretFile, freePort, redisAvailable, startRedis } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;
stopProcessesAfterEach();

/** How many internal hops the replica (a CLI child) has opened, from its debug log. */
function hopsOpened(proc: SpawnedProcess): number {
  return proc.jsonLines().filter((l) => l.msg === 'cluster hop open').length;
}

/** When (epoch ms) the replica logged the first hop lost at or after `since`, or Infinity. */
function hopLostAt(proc: SpawnedProcess, since: number): number {
  const times = proc
    .jsonLines()
    .filter((l) => l.msg === 'cluster hop to another replica failed')
    .map((l) => Date.parse(String(l.time)))
    .filter((t) => t >= since - 1);
  return times.length > 0 ? Math.min(...times) : Infinity;
}

run('cluster: a replica killed under load', () => {
  const res = new Resources();
  afterEach(() => res.closeAll());

  it('loses only the requests in flight on it', async () => {
    const redis = res.add(await startRedis());
    const secret = clusterSecretFile();
    res.add({ close: async () => secret.cleanup() });
    const upstream = res.add(await startStreamableUpstream({ stateless: true, enableJsonResponse: true }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-cluster-kill-'));
    res.add({ close: async () => fs.rmSync(dir, { recursive: true, force: true }) });
    const creds = newCredentials();
    const gateways = [];
    for (let i = 0; i < 3; i++) {
      const hop = await freePort();
      const env = { MCP_TUNNEL_CLUSTER_REDIS: redis.url, MCP_TUNNEL_CLUSTER_ADVERTISE: `http://127.0.0.1:${hop}`, MCP_TUNNEL_CLUSTER_LISTEN: `127.0.0.1:${hop}`, MCP_TUNNEL_CLUSTER_SECRET_FILE: secret.file, MCP_TUNNEL_LOG_LEVEL: 'debug' };
      gateways.push(await spawnGateway(writeGatewayConfig(dir, creds, upstream.url), env));
    }
    const [g0, g1, g2] = gateways as [(typeof gateways)[0], (typeof gateways)[0], (typeof gateways)[0]];
    // One connection each: the test is about the hop to a dead replica, not about spreading.
    spawnProxy(`127.0.0.1:${g0.port}`, creds, { name: 'p0', env: { MCP_TUNNEL_CONNECTIONS: '1' } });
    spawnProxy(`127.0.0.1:${g1.port}`, creds, { name: 'p1', env: { MCP_TUNNEL_CONNECTIONS: '1' } });
    // Generous: under a loaded machine five processes start, authenticate and publish presence.
    await waitFor(() => hopsOpened(g2.proc) >= 2, { timeoutMs: 30_000, message: () => `replica 2 has hops to both proxies; its log:\n${g2.proc.stdout.join('\n')}` });

    const call = async (n: number): Promise<number> => {
      try {
        const r = await fetch(`${g2.url}/mcp/tools`, {
          method: 'POST',
          headers: { authorization: `Bearer ${creds.apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'wait', arguments: { ms: 50 } } }),
        });
        await r.arrayBuffer();
        return r.status;
      } catch {
        return 0;
      }
    };
    const statuses: Array<{ at: number; status: number }> = [];
    let killedAt = Infinity;
    const loop = async (w: number): Promise<void> => {
      for (let i = 0; Date.now() < killedAt + 2000; i++) {
        const started = Date.now();
        statuses.push({ at: started, status: await call(w * 10_000 + i) });
      }
    };
    const CONCURRENCY = 4;
    const loops = Array.from({ length: CONCURRENCY }, (_, w) => loop(w));
    await waitFor(() => statuses.filter((s) => s.status === 200).length >= 20, { message: 'load running' });
    killedAt = Date.now();
    g0.proc.child.kill('SIGKILL');
    await Promise.all(loops);

    const failed = statuses.filter((s) => s.status !== 200);
    const lostAt = hopLostAt(g2.proc, killedAt);
    // Replica 2 noticed the loss (its hop to replica 0 closed), well within the run.
    expect(lostAt).toBeLessThan(killedAt + 2000);
    // Every request routed to the dead hop fails when replica 2 reads the close, and none is routed
    // there after it: at most one failure per loop (each loop waits for its answer) ...
    expect(failed.length).toBeLessThanOrEqual(CONCURRENCY);
    // ... and only requests that started before replica 2 knew.
    expect(failed.filter((s) => s.at > lostAt)).toEqual([]);
    expect(statuses.filter((s) => s.at > killedAt && s.status === 200).length).toBeGreaterThan(5);
  });
});
