/**
 * A rate limit is cluster-wide: a client's burst spent on replica 0 is spent for replica 1 too
 * (one token bucket in Redis, leased in batches; docs/cluster.md). Without sharing, each replica
 * would grant its own burst.
 */
import { Resources } from '../../helpers';
import type { Harness } from '../../helpers/tunnel-harness';
import type { RunningGateway } from '../../../src/gateway';
import { postEcho, rateLimitedCluster, redisAvailable, startCluster } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;
const BURST = 4;

run('cluster: shared rate limits', () => {
  const res = new Resources();
  let h: Harness;
  let replicas: RunningGateway[];

  beforeEach(async () => {
    ({ h, replicas } = await startCluster(res, {
      replicas: 2,
      // Practically no refill during the test: only the burst is granted, cluster-wide.
      ...rateLimitedCluster(BURST),
    }));
  });

  afterEach(() => res.closeAll());

  const post = (g: RunningGateway, id: number): Promise<number> => postEcho(g, h.apiKey, id);

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
