/**
 * A proxy's two connections spread across replicas even when the balancer first sends both to the
 * same replica: that replica asks the newer one to move (GOAWAY), the proxy's replacement asks to
 * avoid it, and the balancer's next pick lands elsewhere. Without the hint the replica accepts.
 */
import { Resources, waitFor } from '../../helpers';
import type { Harness } from '../../helpers/tunnel-harness';
import type { RunningGateway } from '../../../src/gateway';
import { redisAvailable, startBalancer, startCluster } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;

run('cluster: proxies spread across replicas', () => {
  const res = new Resources();
  let h: Harness;
  let replicas: RunningGateway[];

  beforeEach(async () => {
    ({ h, replicas } = await startCluster(res, { startProxy: false }));
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
