/**
 * The replicas share a **Redis Cluster** (three shards) through ioredis's own `Redis.Cluster`
 * (`cluster.redis` = `redis-cluster://H:P,H:P,H:P`): presence (one MULTI and one MGET in the
 * `{presence}` slot), the hop, a shared rate limit (a Lua script on one key) and a configuration
 * change (pub/sub) all work across shards.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { CONFIG_KEY } from '../../../src/cluster/keys';
import { sealChange, sharedPart } from '../../../src/cluster/shared-config';
import { readSecretFile } from '../../../src/config/secret-file';
import { Resources, waitFor } from '../../helpers';
import type { Harness } from '../../helpers/tunnel-harness';
import type { RunningGateway } from '../../../src/gateway';
import { postEcho, rateLimitedCluster, startCluster, type Cluster } from './cluster-harness';
import { redisClusterAvailable, startRedisCluster, type RedisClusterChild } from './redis-cluster';

const run = redisClusterAvailable() ? describe : describe.skip;
const BURST = 4;

run('cluster: replicas sharing a Redis Cluster', () => {
  const res = new Resources();
  let h: Harness;
  let cluster: Cluster;
  let replicas: RunningGateway[];

  beforeEach(async () => {
    cluster = await startCluster(res, {
      replicas: 2,
      redis: () => startRedisCluster(),
      // Practically no refill during the test: only the burst is granted, cluster-wide.
      ...rateLimitedCluster(BURST),
    });
    ({ h, replicas } = cluster);
    await waitFor(() => replicas[1]!.clusterSnapshot()?.hops === 1, { message: 'replica 1 opened its hop to the proxy connection' });
  }, 60_000);

  afterEach(() => res.closeAll());

  const applied = (): number => h.logs.lines.filter((l) => l.msg === 'cluster: applying a configuration change from another replica').length;

  const post = (g: RunningGateway, id: number): Promise<number> => postEcho(g, h.apiKey, id);

  it('routes through the hop and spends one rate-limit burst across replicas', async () => {
    expect(replicas[1]!.registry.all()).toHaveLength(0);
    const first = [await post(replicas[1]!, 1), await post(replicas[1]!, 2)];
    expect(first).toEqual([200, 200]);
    const id0 = h.gateway.clusterSnapshot()!.replicaId;
    // Replica 1 holds no connection: its requests crossed the hop to replica 0's.
    expect(h.gatewayAudit.lines.filter((l) => l.side === 'gateway' && l.status === 200).every((l) => String(l.conn).endsWith(`@${id0}`))).toBe(true);
    const rest: number[] = [];
    for (let i = 0; i < 4; i++) rest.push(await post(replicas[0]!, 10 + i));
    const granted = [...first, ...rest].filter((s) => s === 200).length;
    // BURST cluster-wide, give or take one leased batch (1 token at this rate) per replica.
    expect(granted).toBeLessThanOrEqual(BURST + 1);
    expect(rest).toContain(429);
  });

  it('carries a configuration change to the other replica (pub/sub across shards)', async () => {
    const next = structuredClone(h.gatewayConfig);
    next.tunnels = [{ id: 'corp', secrets: [...next.tunnels[0]!.secrets, randomBytes(32).toString('base64url')] }];
    replicas[1]!.reload(next);
    await waitFor(() => h.logs.find((l) => l.msg === 'cluster: applying a configuration change from another replica'), { message: 'replica 0 applied the change' });
  });

  it('degrades when the whole Redis Cluster goes away, and keeps serving', async () => {
    await cluster.redis.close();
    await waitFor(() => replicas.every((g) => g.clusterSnapshot()?.redis === 'degraded'), { message: 'every replica degraded' });
    // Replica 0 serves its own connection, replica 1 through the hop it already had.
    expect(await post(replicas[0]!, 1)).toBe(200);
    expect(await post(replicas[1]!, 2)).toBe(200);
  });

  it('reads a change stored while it was cut off once the whole cluster is back (no publish needed)', async () => {
    // Stored, not published: only a re-read after the outage can bring it to the replicas.
    const next = structuredClone(h.gatewayConfig);
    next.tunnels = [{ id: 'corp', secrets: [...next.tunnels[0]!.secrets, randomBytes(32).toString('base64url')] }];
    const sealed = sealChange({ from: 'replica-elsewhere', at: Date.now() + 60_000, shared: sharedPart(next) }, readSecretFile(cluster.secretFile));
    await promisify(execFile)('redis-cli', ['-c', '-p', String(cluster.redis.port), 'set', CONFIG_KEY, sealed]);
    const before = applied();
    await (cluster.redis as RedisClusterChild).outage(async () => void (await waitFor(() => replicas.every((g) => g.clusterSnapshot()?.redis === 'degraded'), { message: 'every replica degraded' })));
    await waitFor(() => applied() >= before + 2, { timeoutMs: 30_000, message: 'both replicas applied the stored change after the cluster came back' });
  }, 90_000);
});

