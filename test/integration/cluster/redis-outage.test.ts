/**
 * Redis goes away and comes back: every replica reports itself degraded, keeps serving the tunnel
 * connections it holds and the hops already open, and resynchronises (presence, new hops) when
 * Redis returns on the same address.
 */
import { Resources, waitFor } from '../../helpers';
import type { Harness } from '../../helpers/tunnel-harness';
import type { RunningGateway } from '../../../src/gateway';
import { freePort, redisAvailable, replicaConfig, startCluster, startRedis, startReplica, type Cluster } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;

async function ping(g: RunningGateway, apiKey: string): Promise<number> {
  const r = await fetch(`${g.url}/mcp/notes`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  await r.arrayBuffer();
  return r.status;
}

run('cluster: Redis outage and return', () => {
  const res = new Resources();
  let h: Harness;
  let cluster: Cluster;
  let replicas: RunningGateway[];

  beforeEach(async () => {
    cluster = await startCluster(res);
    ({ h, replicas } = cluster);
    await waitFor(() => replicas.every((g) => g.clusterSnapshot()?.hops === (g === h.gateway ? 0 : 1)), { message: 'hops open' });
  });

  afterEach(() => res.closeAll());

  it('degrades, keeps serving, and resynchronises', async () => {
    await cluster.redis.close();
    await waitFor(() => replicas.every((g) => g.clusterSnapshot()?.redis === 'degraded'), { message: 'every replica degraded' });
    expect(h.logs.find((l) => l.code === 'TUNNEL_CLUSTER_REDIS_UNAVAILABLE')).toBeDefined();
    // The holder serves its own connection; the others still reach it through their open hop.
    for (const g of replicas) expect(await ping(g, h.apiKey)).toBe(200);

    // A replica started during the outage has no view of the others: it serves no tunnel it does not hold.
    const late = await startReplica(replicaConfig(h.gatewayConfig, cluster.redis.url, h.gatewayConfig.cluster!.secretFile, await freePort()), h.logs, h.gatewayAudit);
    res.add({ close: () => late.close(0) });
    expect(late.clusterSnapshot()?.redis).toBe('degraded');
    const refused = await fetch(`${late.url}/mcp/notes`, { method: 'POST', headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
    await refused.arrayBuffer();
    expect(refused.status).toBe(503);

    cluster.redis = await startRedis(cluster.redis.port);
    await waitFor(() => [...replicas, late].every((g) => g.clusterSnapshot()?.redis === 'ok' && g.clusterSnapshot()?.replicas.length === 4), { timeoutMs: 15_000, message: 'resynchronised' });
    await waitFor(() => late.clusterSnapshot()?.hops === 1, { message: 'the late replica opened its hop' });
    expect(await ping(late, h.apiKey)).toBe(200);
  });
});
