/**
 * A rate limit is cluster-wide: a client's burst spent on replica 0 is spent for replica 1 too
 * (one token bucket in Redis, leased in batches; docs/cluster.md). Without sharing, each replica
 * would grant its own burst.
 */
import { Resources } from '../../helpers';
import type { Harness } from '../../helpers/tunnel-harness';
import type { RunningGateway } from '../../../src/gateway';
import { rule } from '../policy/helpers';
import { redisAvailable, startCluster } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;
const BURST = 4;

run('cluster: shared rate limits', () => {
  const res = new Resources();
  let h: Harness;
  let replicas: RunningGateway[];

  beforeEach(async () => {
    ({ h, replicas } = await startCluster(res, {
      replicas: 2,
      upstream: { stateless: true, enableJsonResponse: true },
      // Practically no refill during the test: only the burst is granted, cluster-wide.
      gateway: (c) => void (c.policy = { rules: [rule({ name: 'alice-rate', rateLimit: { ratePerSec: 0.001, burst: BURST } })], inspectLimitBytes: 64 * 1024 }),
    }));
  });

  afterEach(() => res.closeAll());

  const post = async (g: RunningGateway, id: number): Promise<number> => {
    const r = await fetch(`${g.url}/mcp/notes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } }),
    });
    await r.arrayBuffer();
    return r.status;
  };

  it('spends one burst across replicas', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push(await post(replicas[0]!, i));
    const second: number[] = [];
    for (let i = 0; i < 3; i++) second.push(await post(replicas[1]!, 10 + i));
    const granted = [...statuses, ...second].filter((s) => s === 200).length;
    // Exactly BURST cluster-wide, give or take one leased batch (1 token at this rate) per replica.
    expect(granted).toBeLessThanOrEqual(BURST + 1);
    expect(second).toContain(429);
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
  });
});
