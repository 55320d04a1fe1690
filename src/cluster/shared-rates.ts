import type { ClusterStore } from './store';

/** Most keys with a lease kept; the least recently used is forgotten beyond it (its stock returns to Redis by expiry). */
const MAX_LEASES = 100_000;
/** While Redis says the bucket is empty, ask again at most this often per key. */
const EXHAUSTED_RETRY_MS = 50;

/** A take from the local limiter (degraded mode: Redis unreachable). */
export type LocalTake = (key: string, ratePerSec: number, burst: number) => number;

interface Lease {
  /** Tokens leased from Redis and not yet used; negative = debt (overdraft taken before a lease arrived). */
  stock: number;
  fetching: boolean;
  /** Redis granted less than asked at the last fetch (the cluster-wide bucket is empty). */
  exhausted: boolean;
  lastFetch: number;
  waitMs: number;
}

/**
 * Rate limits shared by every replica: the bucket lives in Redis (a Lua script refills and takes
 * atomically, on Redis's clock), and each replica leases tokens in **batches** (a tenth of a second
 * of the rate, at least 1, at most the burst) so that a request never waits for Redis:
 *
 * - a request takes from the local lease; below half a batch the next batch is fetched in the background;
 * - with the lease empty, up to one batch of **overdraft** is granted while a fetch is in flight (a
 *   client's first request on a replica does not wait), and the debt is taken from Redis first;
 * - once Redis reports the bucket empty, requests are refused (429 with the wait Redis computed)
 *   until a fetch succeeds again.
 *
 * Accuracy: cluster-wide admissions exceed `burst + rate × t` by at most one batch per replica (the
 * unused lease or the overdraft), and tokens leased by a replica that the client stops using return
 * only as the bucket refills. While Redis is unreachable each replica falls back to its own local
 * bucket (up to N × the limit across N replicas: availability over accuracy, logged as degraded).
 */
export class SharedRates {
  readonly #leases = new Map<string, Lease>();

  constructor(
    private readonly store: Pick<ClusterStore, 'takeTokens'>,
    private readonly degraded: () => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** 0 when granted, else milliseconds until a token is expected (as {@link ClientLimiter.takeToken}). */
  takeToken(key: string, ratePerSec: number, burst: number, local: LocalTake): number {
    if (this.degraded()) return local(key, ratePerSec, burst);
    const batch = Math.max(1, Math.min(burst, Math.ceil(ratePerSec / 10)));
    const lease = this.#lease(key);
    if (lease.stock >= 1) {
      lease.stock -= 1;
      if (lease.stock < batch / 2) this.#fetch(key, lease, ratePerSec, burst, batch);
      return 0;
    }
    if (!lease.exhausted && lease.stock > -batch) {
      lease.stock -= 1;
      this.#fetch(key, lease, ratePerSec, burst, batch);
      return 0;
    }
    this.#fetch(key, lease, ratePerSec, burst, batch);
    return Math.max(1, lease.waitMs || Math.ceil(1000 / ratePerSec));
  }

  #lease(key: string): Lease {
    let lease = this.#leases.get(key);
    if (lease) {
      this.#leases.delete(key); // re-inserted: most recently used last
    } else {
      lease = { stock: 0, fetching: false, exhausted: false, lastFetch: -Infinity, waitMs: 0 };
    }
    this.#leases.set(key, lease);
    while (this.#leases.size > MAX_LEASES) {
      const oldest = this.#leases.keys().next().value;
      if (oldest === undefined) break;
      this.#leases.delete(oldest);
    }
    return lease;
  }

  #fetch(key: string, lease: Lease, ratePerSec: number, burst: number, batch: number): void {
    const now = this.now();
    if (lease.fetching || (lease.exhausted && now - lease.lastFetch < EXHAUSTED_RETRY_MS)) return;
    lease.fetching = true;
    lease.lastFetch = now;
    const want = batch + Math.max(0, -Math.floor(lease.stock));
    this.store
      .takeTokens(key, ratePerSec, burst, want)
      .then(({ granted, waitMs }) => {
        lease.stock += granted;
        lease.exhausted = granted < want;
        lease.waitMs = waitMs;
      })
      .catch(() => undefined) // Redis down: the next take sees `degraded` and goes local
      .finally(() => (lease.fetching = false));
  }
}
