/**
 * A proxy's two connections spread across replicas even when the balancer first sends both to the
 * same replica: that replica asks the newer one to move (GOAWAY), the proxy's replacement asks to
 * avoid it, and the balancer's next pick lands elsewhere. Without the hint the replica accepts.
 */
import { startStreamableUpstream } from '../../fixtures/mcp-upstream';
import { Resources, waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import type { RunningGateway } from '../../../src/gateway';
import { clusterSecretFile, freePort, redisAvailable, replicaConfig, startBalancer, startRedis, startReplica } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;

run('cluster: proxies spread across replicas', () => {
  const res = new Resources();
  let h: Harness;
  let replicas: RunningGateway[];

  beforeEach(async () => {
    const redis = res.add(await startRedis());
    const secret = clusterSecretFile();
    res.add({ close: async () => secret.cleanup() });
    const upstream = res.add(await startStreamableUpstream());
    const hop0 = await freePort();
    h = res.add(await startHarness({ servers: [{ name: 'notes', url: upstream.url }], startProxy: false, gateway: (c) => Object.assign(c, replicaConfig(c, redis.url, secret.file, hop0)) }));
    replicas = [h.gateway];
    for (let i = 1; i < 3; i++) {
      const g = await startReplica(replicaConfig(h.gatewayConfig, redis.url, secret.file, await freePort()), h.logs, h.gatewayAudit);
      res.add({ close: () => g.close(0) });
      replicas.push(g);
    }
    await waitFor(() => replicas.every((g) => g.clusterSnapshot()?.replicas.length === 3), { message: 'three replicas in every view' });
  });

  afterEach(() => res.closeAll());

  it('moves the second connection of a proxy off the replica that holds both', async () => {
    // The first three connections go to replica 0 (as an affinity balancer would), later ones elsewhere:
    // the replacement (third) carries the hint and is refused there, the fourth lands elsewhere.
    const lb = res.add(await startBalancer(() => replicas.map((g) => g.port), (n, ports) => (n < 3 ? ports[0]! : ports[1 + (n % 2)]!)));
    await h.addProxy((c) => {
      c.url = `${lb.url.replace(/^http/, 'ws')}/tunnel/corp`;
      c.connections = 2;
    });
    expect(h.gateway.registry.all()).toHaveLength(2);
    await waitFor(() => h.gateway.registry.all().length === 1 && replicas.slice(1).some((g) => g.registry.all().length === 1), { timeoutMs: 15_000, message: 'one connection on replica 0, one elsewhere' });
    expect(h.logs.find((l) => l.msg === 'cluster: asked a proxy to move a second connection to another replica')).toBeDefined();
    expect(h.logs.find((l) => l.msg === 'tunnel connection sent to another replica (the proxy has one here)')).toBeDefined();
  });
});
