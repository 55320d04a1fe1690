/**
 * A whole Redis Cluster outage must leave a replica calm (decisions.md D85): ioredis's own cluster
 * subscriber reconnects "as quickly as possible" and, with every node down, made ~4,500 connection
 * attempts a second for as long as the outage lasted. The store's own pub/sub connection
 * (src/cluster/channel-subscriber.ts) takes the store's backoff instead, and still carries every
 * configuration change while the cluster is up.
 */
import net from 'node:net';
import pino from 'pino';
import { openRedisStore, type ClusterStore } from '../../../src/cluster/store';
import { waitFor } from '../../helpers';
import { redisClusterAvailable, startRedisCluster, type RedisClusterChild } from './redis-cluster';

const run = redisClusterAvailable() ? describe : describe.skip;

run('cluster store on a Redis Cluster that goes away', () => {
  let cluster: RedisClusterChild | null = null;
  let store: ClusterStore | null = null;
  const originalConnect = net.Socket.prototype.connect;

  afterEach(async () => {
    net.Socket.prototype.connect = originalConnect;
    await store?.close();
    await cluster?.close();
    store = null;
    cluster = null;
  });

  it('carries configuration changes, then backs off while every node is down (no reconnect storm)', async () => {
    cluster = await startRedisCluster();
    store = await openRedisStore(cluster.url, pino({ level: 'silent' }));
    const got: string[] = [];
    store.onConfig((m) => got.push(m));
    const s = store;
    // Published until one arrives: the subscription may still be on its way when the first goes out.
    await waitFor(
      async () => {
        await s.publishConfig('change-1').catch(() => undefined);
        return got.includes('change-1');
      },
      { message: 'a configuration change published on the cluster reached the subscriber', intervalMs: 100 },
    );

    // Every connection attempt the process makes from now on.
    const attempts: number[] = [];
    const t0 = Date.now();
    net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]): net.Socket {
      attempts.push(Date.now() - t0);
      return (originalConnect as (...a: unknown[]) => net.Socket).apply(this, args);
    };
    await cluster.close();
    cluster = null;

    // Four attempts take at least the backoff between them (100 + 200 + 400 ms); the storm made
    // thousands within the first few milliseconds.
    await waitFor(() => attempts.length >= 4, { timeoutMs: 20_000, message: 'the subscriber tried again' });
    expect(attempts[3]).toBeGreaterThanOrEqual(500);
  }, 60_000);
});
