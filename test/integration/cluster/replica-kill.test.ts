/**
 * `kill -9` of a gateway replica (a CLI child) under load: only the requests in flight on it are
 * lost. Two proxies hold one connection each, on replicas 0 and 1; clients call replica 2, which
 * reaches both through the internal hop. Replica 0 dies; its hop breaks, replica 2 stops picking
 * it at once, and every later request goes through replica 1.
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
    await waitFor(() => hopsOpened(g2.proc) >= 2, { timeoutMs: 10_000, message: 'replica 2 has hops to both proxies' });

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
    // At most one request per loop was in flight at the kill (each loop waits for its answer).
    expect(failed.length).toBeLessThanOrEqual(CONCURRENCY);
    expect(failed.every((s) => s.at <= killedAt)).toBe(true);
    expect(statuses.filter((s) => s.at > killedAt && s.status === 200).length).toBeGreaterThan(5);
  });
});
