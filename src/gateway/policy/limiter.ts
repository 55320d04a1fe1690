/** Milliseconds from a monotonic clock (`performance.now` by default); injected in tests. */
export type MsClock = () => number;

/** Most (rule, client) entries kept; the least recently used idle one is dropped beyond it. */
export const MAX_LIMITER_ENTRIES = 100_000;

/**
 * A token bucket: holds up to `burst` tokens, refilled continuously at `ratePerSec`. A request
 * takes one token; with none left it learns how long until the next one.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;
  #rate: number;
  #burst: number;

  constructor(ratePerSec: number, burst: number, now: number) {
    this.#rate = ratePerSec;
    this.#burst = burst;
    this.#tokens = burst;
    this.#last = now;
  }

  /** Applies new settings (a reload) keeping the tokens earned so far, capped at the new burst. */
  configure(ratePerSec: number, burst: number, now: number): void {
    this.#refill(now);
    this.#rate = ratePerSec;
    this.#burst = burst;
    this.#tokens = Math.min(this.#tokens, burst);
  }

  /** Takes a token: 0 when granted, else the milliseconds until one is available. */
  take(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.#tokens) / this.#rate) * 1000));
  }

  /** Whether the bucket is full (an entry in that state carries no information and can be dropped). */
  full(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.#burst;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed / 1000) * this.#rate);
  }
}

/** Rate buckets kept elsewhere (the cluster's, in Redis); `local` is this limiter's own bucket. */
export interface SharedRateSource {
  takeToken(key: string, ratePerSec: number, burst: number, local: (key: string, ratePerSec: number, burst: number) => number): number;
}

/** Concurrency slots kept elsewhere (the cluster's, leased from Redis); `local` is this limiter's own counter. */
export interface SharedSlotSource {
  acquire(key: string, max: number, local: (key: string, max: number) => Slot | null): Slot | null;
}

/** A granted concurrency slot; `release()` is idempotent. */
export interface Slot {
  release(): void;
}

const NO_SLOT: Slot = { release: () => undefined };

/**
 * Per-client rate and concurrency state. Lives as long as the gateway (not the configuration), so
 * a reload neither refills buckets nor forgets the requests in flight: a slot taken before the
 * reload is released into the same counter after it. Keys are `(rule name, client)`.
 */
export class ClientLimiter {
  readonly #clock: MsClock;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #inFlight = new Map<string, { count: number }>();
  readonly #maxEntries: number;
  #shared: SharedRateSource | null = null;
  #sharedSlots: SharedSlotSource | null = null;

  constructor(clock: MsClock = () => performance.now(), maxEntries = MAX_LIMITER_ENTRIES) {
    this.#clock = clock;
    this.#maxEntries = maxEntries;
  }

  /** Entries held (for tests of the bound). */
  get size(): number {
    return this.#buckets.size + this.#inFlight.size;
  }

  /** Cluster hook (src/cluster/shared-rates.ts): rate buckets shared by every replica; local ones when it says so. */
  shareRates(source: SharedRateSource): void {
    this.#shared = source;
  }

  /** Cluster hook (src/cluster/shared-slots.ts): concurrency slots counted cluster-wide; local ones when it says so. */
  shareSlots(source: SharedSlotSource | null): void {
    this.#sharedSlots = source;
  }

  /** Takes a token from the key's bucket: 0 when granted, else milliseconds until the next token. */
  takeToken(key: string, ratePerSec: number, burst: number): number {
    return this.#shared ? this.#shared.takeToken(key, ratePerSec, burst, (k, r, b) => this.#takeLocal(k, r, b)) : this.#takeLocal(key, ratePerSec, burst);
  }

  #takeLocal(key: string, ratePerSec: number, burst: number): number {
    const now = this.#clock();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key); // re-inserted below: most recently used last
      bucket.configure(ratePerSec, burst, now);
    } else {
      bucket = new TokenBucket(ratePerSec, burst, now);
    }
    this.#buckets.set(key, bucket);
    this.#evict();
    return bucket.take(now);
  }

  /** A concurrency slot under `max`, or null when `max` requests of the key are in flight. */
  acquire(key: string, max: number): Slot | null {
    return this.#sharedSlots ? this.#sharedSlots.acquire(key, max, (k, m) => this.#acquireLocal(k, m)) : this.#acquireLocal(key, max);
  }

  #acquireLocal(key: string, max: number): Slot | null {
    let entry = this.#inFlight.get(key);
    if (!entry) {
      entry = { count: 0 };
      this.#inFlight.set(key, entry);
    }
    if (entry.count >= max) return null;
    entry.count += 1;
    const held = entry;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        held.count -= 1;
        if (held.count <= 0 && this.#inFlight.get(key) === held) this.#inFlight.delete(key);
      },
    };
  }

  /** A slot that limits nothing (no concurrency rule applies). */
  static readonly unlimited: Slot = NO_SLOT;

  /** Drops the least recently used bucket beyond the bound (it comes back full: the identity got a refill). */
  #evict(): void {
    while (this.#buckets.size > this.#maxEntries) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest === undefined) break;
      this.#buckets.delete(oldest);
    }
  }
}
