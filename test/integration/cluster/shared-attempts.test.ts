/**
 * The failed-handshake window (`limits.connectAttemptsPerMinute` per tunnel and source) is
 * cluster-wide (src/cluster/shared-failures.ts): a scanner spreading its attempts over three replicas
 * gets about the limit, not three times it; with Redis down each replica's own window decides.
 */
import { once } from 'node:events';
import WebSocket from 'ws';
import { Resources, waitFor } from '../../helpers';
import type { Harness } from '../../helpers/tunnel-harness';
import type { RunningGateway } from '../../../src/gateway';
import { redisAvailable, startCluster, type Cluster } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;
const LIMIT = 4;

run('cluster: shared failed-handshake window', () => {
  const res = new Resources();
  let h: Harness;
  let cluster: Cluster;
  let replicas: RunningGateway[];

  beforeEach(async () => {
    cluster = await startCluster(res, { replicas: 3, gateway: (c) => void (c.limits.connectAttemptsPerMinute = LIMIT) });
    ({ h, replicas } = cluster);
  });

  afterEach(() => res.closeAll());

  /** A bare upgrade from `from` closed without a handshake (a failed attempt): true when admitted, false on 429. */
  function attempt(g: RunningGateway, from: string): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${g.url.replace(/^http/, 'ws')}/tunnel/corp`, { localAddress: from });
      res.defer(() => ws.terminate());
      ws.on('open', () => {
        ws.close();
        void once(ws, 'close').then(() => resolve(true));
      });
      ws.on('unexpected-response', (_req, r) => {
        r.resume();
        if (r.statusCode === 429) resolve(false);
        else reject(new Error(`unexpected status ${r.statusCode}`));
      });
      ws.on('error', (err) => {
        if (ws.readyState === WebSocket.CONNECTING) reject(err);
      });
    });
  }

  /** `n` attempts from `from`, round robin over the replicas: how many each replica admitted. */
  async function scan(from: string, n: number): Promise<number[]> {
    const admitted = replicas.map(() => 0);
    for (let i = 0; i < n; i++) if (await attempt(replicas[i % replicas.length]!, from)) admitted[i % replicas.length]!++;
    return admitted;
  }

  const refusals = (): Array<Record<string, unknown>> => h.logs.lines.filter((l) => l.msg === 'tunnel connection refused: connection limit');

  it('admits about the limit cluster-wide, not the limit per replica', async () => {
    const admitted = await scan('127.0.0.2', 15);
    const total = admitted.reduce((a, b) => a + b, 0);
    // Each replica learns the cluster-wide count with the failures it records: at most one more
    // failing attempt per replica once the limit is reached (limit + N - 1 = 6; one more of slack for
    // a Redis answer still on its way on a loaded machine), instead of N × limit (12).
    expect(total).toBeGreaterThanOrEqual(LIMIT);
    expect(total).toBeLessThanOrEqual(LIMIT + replicas.length);
    // A replica whose own window is under the limit refuses on the shared one.
    expect(refusals().some((l) => String(l.reason).includes('from 127.0.0.2 across the cluster in the last minute'))).toBe(true);
    // Per source: another address is not affected, on any replica.
    for (const g of replicas) expect(await attempt(g, '127.0.0.3')).toBe(true);
  });

  it('falls back to each replica\'s own window while Redis is down', async () => {
    await cluster.redis.close();
    await waitFor(() => replicas.every((g) => g.clusterSnapshot()?.redis === 'degraded'), { message: 'every replica degraded' });
    const admitted = await scan('127.0.0.4', 15);
    expect(admitted).toEqual(replicas.map(() => LIMIT));
  });
});
