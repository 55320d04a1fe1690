/**
 * A request that crosses the internal hop just as the tunnel connection behind the hop starts
 * draining: the holder sends it down another connection of the tunnel, as it would one of its own
 * requests, instead of refusing it (which the other replica answered with 503 TUNNEL_STREAM_REFUSED;
 * found by `npm run bench`'s cluster target while the proxy's connections were being spread).
 */
import { Resources, waitFor } from '../../helpers';
import { postEcho, redisAvailable, startCluster } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;

run('cluster: a hop whose tunnel connection drains', () => {
  const res = new Resources();
  afterEach(() => res.closeAll());

  it('serves the requests that crossed the drain on another connection of the tunnel, none refused', async () => {
    const { h, replicas } = await startCluster(res, { replicas: 2, upstream: { stateless: true, enableJsonResponse: true } });
    await h.addProxy(); // a second proxy: replica 0 holds two connections of the tunnel
    const other = replicas[1]!;
    await waitFor(() => other.clusterSnapshot()?.hops === 2, { message: 'replica 1 has a hop to each connection' });
    await waitFor(() => h.gateway.registry.all().length === 2, { message: 'two connections on replica 0' });
    const draining = h.gateway.registry.all()[0]!;
    // Replica 0 drains one connection on its own (as a rotation or a move does); the hop to it is
    // still open on replica 1, which keeps picking it until the hop's GOAWAY reaches it.
    draining.mux.goAway();
    const statuses = await Promise.all(Array.from({ length: 24 }, (_, i) => postEcho(other, h.apiKey, i + 1)));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // Some of them went to the draining connection's hop (replica 1's record names it), and were served.
    const viaDraining = h.gatewayAudit.lines.filter((l) => l.side === 'gateway' && String(l.conn).startsWith(`${draining.id}@`));
    expect(viaDraining.length).toBeGreaterThan(0);
    expect(viaDraining.every((l) => l.status === 200)).toBe(true);
  });
});
