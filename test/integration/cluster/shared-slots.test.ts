/**
 * Cluster-wide concurrency slots (src/cluster/shared-slots.ts) on a real redis-server: two replicas'
 * leases of one key never hold more than the limit once they have met it, a release on one replica
 * frees a slot for the other, a dead replica's lease expires, and without Redis each goes local.
 */
import { SharedSlots } from '../../../src/cluster/shared-slots';
import { openRedisStore, type ClusterStore } from '../../../src/cluster';
import { ClientLimiter } from '../../../src/gateway/policy/limiter';
import { waitFor } from '../../helpers';
import { LogCapture } from '../../helpers/tunnel-harness';
import { redisAvailable, startRedis, type RedisChild } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;

type Slot = { release(): void };

run('cluster: shared concurrency slots (real Redis)', () => {
  let redis: RedisChild | null;
  const stores: ClusterStore[] = [];
  const slots: SharedSlots[] = [];

  beforeEach(async () => {
    redis = await startRedis();
  });

  afterEach(async () => {
    for (const s of slots.splice(0)) s.close();
    for (const s of stores.splice(0)) await s.close();
    await redis?.close();
  });

  /** One replica's limiter with slots shared through Redis; `down()` says degraded. */
  async function replica(id: string, ttlMs = 10_000, down: () => boolean = () => false): Promise<{ limiter: ClientLimiter; store: ClusterStore }> {
    const store = await openRedisStore(redis!.url, new LogCapture('error').logger);
    stores.push(store);
    const shared = new SharedSlots(store, id, down, undefined, ttlMs);
    slots.push(shared);
    const limiter = new ClientLimiter();
    limiter.shareSlots(shared);
    return { limiter, store };
  }

  /** Acquires once Redis has answered (a refusal asks again), as a retrying client would. */
  async function take(limiter: ClientLimiter, key = 'rule:alice', max = 3): Promise<Slot> {
    let slot: Slot | null = null;
    await waitFor(() => (slot = limiter.acquire(key, max)) !== null, { message: 'a slot granted' });
    return slot!;
  }

  /** What Redis holds for the key now (replica → lease), as the other replicas read it. */
  async function leases(store: ClusterStore, key = 'rule:alice', max = 3): Promise<number> {
    return (await store.leaseSlots(key, 'observer', 0, 0, max, 1000)).others;
  }

  it('holds the limit across replicas: B is refused while A holds it all, and gets the slot A releases', async () => {
    const a = await replica('A');
    const b = await replica('B');
    const held = [await take(a.limiter), await take(a.limiter), await take(a.limiter)];
    await waitFor(async () => (await leases(a.store)) === 3, { message: "A's lease of 3 in Redis" });

    // B's first request is its one overdraft slot (it has not asked Redis yet); B learns the key is full.
    const over = b.limiter.acquire('rule:alice', 3);
    expect(over).not.toBeNull();
    await waitFor(async () => (await leases(a.store)) === 4, { message: "B's overdraft is counted in Redis" });
    over!.release();
    await waitFor(async () => (await leases(a.store)) === 3, { message: 'B gave its slot back' });
    // Now B knows it is full: every attempt is refused while A holds 3 (each asks Redis again).
    for (let i = 0; i < 20; i++) {
      expect(b.limiter.acquire('rule:alice', 3)).toBeNull();
      await new Promise((r) => setImmediate(r));
    }

    held[0]!.release();
    await waitFor(async () => (await leases(a.store)) === 2, { message: "A's lease shrank" });
    const bSlot = await take(b.limiter);
    expect(b.limiter.acquire('rule:alice', 3)).toBeNull();
    expect(await leases(a.store)).toBe(3);
    bSlot.release();
    held[1]!.release();
    held[2]!.release();
  });

  it("a dead replica's lease expires; without Redis each replica counts locally", async () => {
    const a = await replica('A', 300);
    await take(a.limiter, 'k', 2);
    await take(a.limiter, 'k', 2);
    await waitFor(async () => (await leases(a.store, 'k', 2)) === 2, { message: "A's lease in Redis" });
    slots[0]!.close(); // A stops renewing (as a killed replica would)
    await waitFor(async () => (await leases(a.store, 'k', 2)) === 0, { message: "A's lease expired" });

    let degraded = false;
    const c = await replica('C', 10_000, () => degraded);
    await take(c.limiter, 'k', 2);
    await take(c.limiter, 'k', 2);
    expect(c.limiter.acquire('k', 2)).toBeNull();
    degraded = true; // Redis unreachable: the local counter (empty) decides
    expect(c.limiter.acquire('k', 2)).not.toBeNull();
  });
});
