import { ATTEMPT_WINDOW_MS, dropExpired, setMostRecent, type SharedFailureWindow } from '../gateway/tunnel-admission';
import type { ClusterStore } from './store';

/**
 * The failed-handshake window (`limits.connectAttemptsPerMinute` per tunnel and source) shared by
 * every replica: each failure is added to a Redis sorted set per (tunnel, source) (one Lua script,
 * on Redis's clock), whose answer, the ages of the window's failures, becomes this replica's view
 * of the key. An upgrade never waits for Redis: {@link TunnelAdmission.admit} decides on the longer
 * of its local window and this view (aged on the local clock, so no replica clock skew matters).
 *
 * Accuracy: a replica learns the cluster-wide count with each failure it records, so once the
 * cluster has seen the limit each replica admits at most one more failing attempt (plus the
 * handshakes already pending), i.e. at most limit + N − 1 over N replicas instead of N × limit.
 * Redis unreachable: null views, each replica's local window decides (N × the limit: availability
 * over accuracy), and failures meanwhile are not added to Redis.
 */
export class SharedFailures implements SharedFailureWindow {
  /** Key → failure times on the local clock, oldest first, and the record that answered them; least recently updated first. */
  readonly #views = new Map<string, { times: number[]; seq: number }>();
  #seq = 0;

  constructor(
    private readonly store: Pick<ClusterStore, 'recordFailure'>,
    private readonly replicaId: string,
    private readonly degraded: () => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  failures(key: string, now: number): readonly number[] | null {
    if (this.degraded()) return null;
    const view = this.#views.get(key)?.times;
    if (view === undefined) return null;
    dropExpired(view, now);
    if (view.length === 0) this.#views.delete(key);
    return view;
  }

  record(key: string, cap: number): void {
    if (this.degraded()) return;
    const seq = ++this.#seq;
    this.store
      .recordFailure(key, `${this.replicaId}:${seq}`, ATTEMPT_WINDOW_MS, cap)
      .then((ages) => {
        // Answers may arrive out of order: an older one never replaces a newer view.
        if ((this.#views.get(key)?.seq ?? 0) > seq) return;
        const at = this.now();
        setMostRecent(this.#views, key, { times: ages.map((age) => at - age), seq });
      })
      .catch(() => undefined); // Redis down: the next decision sees `degraded` and goes local
  }
}
