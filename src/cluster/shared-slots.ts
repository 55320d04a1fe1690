import { asyncScheduler, timer, type SchedulerLike, type Subscription } from '../rx';
import type { ClusterStore } from './store';

/** A replica's lease of a key's slots lives this long in Redis unless renewed (a dead replica's vanish with it). */
export const SLOT_LEASE_TTL_MS = 10_000;
/** Leases in use are renewed this often (well inside the TTL). */
export const SLOT_RENEW_MS = 3_000;
/** While refused, ask Redis again at most this often per key. */
const FULL_RETRY_MS = 50;

/** An acquire from the local limiter (degraded mode: Redis unreachable). */
export type LocalAcquire = (key: string, max: number) => { release(): void } | null;

interface SlotLease {
  /** Slots of the key in use on this replica (granted and not released). */
  used: number;
  /** `used` as Redis last confirmed it (grants beyond it are this replica's unconfirmed overdraft). */
  confirmed: number;
  /** The other replicas' slots in use at Redis's last answer. */
  others: number;
  fetching: boolean;
  lastFetch: number;
  max: number;
}

/**
 * Concurrency limits shared by every replica (`policy` `maxConcurrent`, `limits.maxOpenStreamsPerClient`):
 * each replica keeps its count of a key's slots in use in a Redis hash (field = replica id, value =
 * count and expiry; a Lua script sums the other replicas' live counts on Redis's clock) and decides
 * every request locally from the last answer, so that a request never waits for Redis:
 *
 * - a request is granted while `used + others < max` (others as Redis last reported them) and this
 *   replica's grants not yet confirmed by Redis stay under one **batch** (a tenth of the limit, at
 *   least 1); every grant and release reports the new count in the background (coalesced);
 * - a refusal asks Redis again (at most every 50 ms), so a retry sees the slots others released;
 * - counts in use are renewed every 3 s and expire after 10 s: a killed replica's slots return by then.
 *
 * Accuracy: cluster-wide in-flight exceeds the limit by at most one batch per replica (grants made
 * on a view at most one round trip old); a replica may refuse for up to 50 ms + one round trip after
 * room appeared elsewhere. While Redis is unreachable each replica falls back to its own local
 * counter (up to N × the limit across N replicas, as for the rate buckets).
 */
export class SharedSlots {
  readonly #leases = new Map<string, SlotLease>();
  readonly #renew: Subscription;
  readonly #now: () => number;

  constructor(
    private readonly store: Pick<ClusterStore, 'leaseSlots'>,
    private readonly replicaId: string,
    private readonly degraded: () => boolean,
    scheduler: SchedulerLike = asyncScheduler,
    private readonly ttlMs = SLOT_LEASE_TTL_MS,
  ) {
    this.#now = () => scheduler.now();
    this.#renew = timer(SLOT_RENEW_MS, SLOT_RENEW_MS, scheduler).subscribe(() => {
      for (const [key, lease] of this.#leases) {
        if (lease.used === 0 && lease.confirmed === 0 && !lease.fetching) this.#leases.delete(key); // idle: no field in Redis
        else this.#report(key, lease, true);
      }
    });
  }

  /** A slot under `max` cluster-wide, or null (as {@link ClientLimiter.acquire}). */
  acquire(key: string, max: number, local: LocalAcquire): { release(): void } | null {
    if (this.degraded()) return local(key, max);
    let l = this.#leases.get(key);
    if (!l) this.#leases.set(key, (l = { used: 0, confirmed: 0, others: 0, fetching: false, lastFetch: -Infinity, max }));
    l.max = max;
    if (l.used + l.others >= max || l.used - l.confirmed >= batch(max)) {
      this.#report(key, l, false);
      return null;
    }
    l.used += 1;
    this.#report(key, l, true);
    const held = l;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        held.used -= 1;
        this.#report(key, held, true);
      },
    };
  }

  close(): void {
    this.#renew.unsubscribe();
  }

  /** Tells Redis this replica's count and learns the others'; `changed`: the count moved (not rate limited). */
  #report(key: string, l: SlotLease, changed: boolean): void {
    const now = this.#now();
    if (l.fetching || (!changed && now - l.lastFetch < FULL_RETRY_MS)) return;
    l.fetching = true;
    l.lastFetch = now;
    const sent = l.used;
    this.store
      .leaseSlots(key, this.replicaId, sent, sent, l.max, this.ttlMs)
      .then(
        ({ others }) => {
          l.fetching = false;
          l.confirmed = sent;
          l.others = others;
          if (l.used !== sent) this.#report(key, l, true); // moved meanwhile
        },
        () => (l.fetching = false), // Redis down: the next acquire sees `degraded` and goes local
      );
  }
}

function batch(max: number): number {
  return Math.max(1, Math.floor(max / 10));
}
