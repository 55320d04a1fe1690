import { BehaviorSubject, asyncScheduler, exhaustMap, from, timer, type SchedulerLike, type Subscription } from '../rx';
import { F, type Logger } from '../log';
import { CLUSTER_CODES } from './errors';
import { PRESENCE_REFRESH_MS, PRESENCE_TTL_MS, type ReplicaEntry } from './keys';
import type { ClusterStore } from './store';

export interface PresenceOptions {
  store: ClusterStore;
  /** This replica's entry as of now (its tunnel connections and their load). */
  self: () => ReplicaEntry;
  logger: Logger;
  refreshMs?: number;
  ttlMs?: number;
  scheduler?: SchedulerLike;
}

/** What a replica knows of the others; `degraded` while Redis cannot be read. */
export interface PresenceView {
  /** Every other live replica, by id. */
  peers: ReadonlyMap<string, ReplicaEntry>;
  degraded: boolean;
  /** When the view was last read from Redis (ms), 0 never. */
  readAt: number;
}

/**
 * Publishes this replica's tunnel connections and reads everyone's, every `refreshMs`: a replica
 * that stops (crash, kill -9, partition) vanishes from every view within `ttlMs`. While Redis is
 * unreachable the view is empty and `degraded` (serving local tunnels only is always safe: a
 * remote entry may be stale); the next successful round resynchronises.
 */
export class Presence {
  readonly view$ = new BehaviorSubject<PresenceView>({ peers: new Map(), degraded: true, readAt: 0 });
  readonly #sub: Subscription;
  readonly #opts: PresenceOptions;

  constructor(opts: PresenceOptions) {
    this.#opts = opts;
    const scheduler = opts.scheduler ?? asyncScheduler;
    this.#sub = timer(0, opts.refreshMs ?? PRESENCE_REFRESH_MS, scheduler)
      .pipe(exhaustMap(() => from(this.#round(scheduler.now()))))
      .subscribe();
  }

  /** Publishes and re-reads now (after a local change, so peers learn it before the next tick). */
  refresh(): Promise<void> {
    return this.#round((this.#opts.scheduler ?? asyncScheduler).now());
  }

  async #round(now: number): Promise<void> {
    const { store, self, logger } = this.#opts;
    const me = self();
    try {
      await store.publishPresence(me, this.#opts.ttlMs ?? PRESENCE_TTL_MS, now);
      const all = await store.readPresence(now);
      const peers = new Map(all.filter((e) => e.id !== me.id).map((e) => [e.id, e]));
      if (this.view$.value.degraded && this.view$.value.readAt !== 0) logger.info({ peers: peers.size }, 'cluster: Redis back; presence resynchronised');
      this.view$.next({ peers, degraded: false, readAt: now });
    } catch (err) {
      if (!this.view$.value.degraded) logger.warn({ [F.code]: CLUSTER_CODES.redisUnavailable, [F.reason]: (err as Error).message }, 'cluster: presence not refreshed; serving local tunnels only');
      this.view$.next({ peers: new Map(), degraded: true, readAt: this.view$.value.readAt });
    }
  }

  /** Stops refreshing and removes this replica's entry (best effort: it expires anyway). */
  async close(): Promise<void> {
    this.#sub.unsubscribe();
    this.view$.complete();
    await this.#opts.store.removePresence(this.#opts.self().id).catch(() => undefined);
  }
}
