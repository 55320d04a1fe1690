/**
 * Tunnel admission: admission control for proxy connections at `/tunnel/{id}` (not to be confused
 * with `policy/admit.ts`, which admits MCP client requests), decided at the HTTP upgrade, before a
 * WebSocket (or any handshake state) is allocated. Three limits, all live-configurable:
 *
 * - unauthenticated connections per source address (a slow-loris of half-open handshakes),
 * - unauthenticated connections in total,
 * - failed connection attempts per tunnel and source address per minute (a sliding 60 s window; a
 *   proxy hammering with a wrong secret, a scanner).
 *
 * A connection counts as unauthenticated from the admitted upgrade until its handshake ends
 * (authenticated, failed, timed out or closed); the caller reports that with {@link Admitted.release}.
 *
 * Nothing an anonymous peer can do spends another peer's allowance: a successful handshake is never
 * counted (a reconnect storm of real proxies costs nothing), and failures count against the source
 * address they came from (an IPv6 address by its /64, which one host usually holds whole). Counting
 * every upgrade per tunnel, as this did before, let about two bare upgrades a second from anyone keep
 * a tunnel's proxies locked out (issue 8, defect 11).
 */

/** The limits in force; read on every decision, so a reloaded configuration applies at once. */
export interface TunnelAdmissionLimits {
  /** Unauthenticated connections one source address may hold at once. */
  maxUnauthenticatedPerAddress: number;
  /** Unauthenticated connections the gateway holds at once. */
  maxUnauthenticated: number;
  /** Failed attempts accepted per tunnel and source address in any 60 s window. */
  connectAttemptsPerMinute: number;
}

/** Which limit refused a connection (stable names, logged as `limit`). */
export type TunnelAdmissionLimitName = 'maxUnauthenticatedPerAddress' | 'maxUnauthenticated' | 'connectAttemptsPerMinute';

export interface Admitted {
  ok: true;
  /**
   * Ends the connection's unauthenticated phase; `authenticated: false` (the default: closed,
   * timed out, refused proof) counts a failed attempt for the tunnel and the source address.
   * Idempotent: the first call decides.
   */
  release(authenticated?: boolean): void;
}

export interface Refused {
  ok: false;
  limit: TunnelAdmissionLimitName;
  /** Human-readable reason, e.g. `16 unauthenticated connections from 10.0.0.7 (limit 16)`. */
  reason: string;
  /** When a retry could succeed (whole seconds, for `Retry-After`). */
  retryAfterSeconds: number;
}

export type TunnelAdmissionDecision = Admitted | Refused;

/**
 * The failed-attempts window shared by the replicas of a cluster (src/cluster/shared-failures.ts):
 * without it each replica counts alone, and a scanner spreading over N replicas gets N × the attempts.
 */
export interface SharedFailureWindow {
  /**
   * The key's failures cluster-wide within the window as last learnt from Redis (local clock, oldest
   * first); null when unknown or degraded (the local window decides). Never waits for Redis.
   */
  failures(key: string, now: number): readonly number[] | null;
  /** Records one failure of the key cluster-wide, in the background; `cap`: most failures worth keeping. */
  record(key: string, cap: number): void;
}

/** The length of the attempts window. */
export const ATTEMPT_WINDOW_MS = 60_000;

/** Most (tunnel, source) failure windows kept; the least recently failed one is dropped beyond it. */
export const MAX_FAILURE_WINDOWS = 10_000;

/**
 * The source a failure is counted against: an IPv4 address (IPv4-mapped IPv6 included) as is, an
 * IPv6 address by its /64 prefix.
 */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Counts unauthenticated connections and recent failed attempts. Memory is bounded: per-address
 * entries exist only while that address holds a pending handshake (at most `maxUnauthenticated` of
 * them); failure windows exist only for configured tunnels (callers check the tunnel id first), at
 * most {@link MAX_FAILURE_WINDOWS} of them, each holding at most `connectAttemptsPerMinute` plus
 * `maxUnauthenticatedPerAddress` timestamps.
 */
export class TunnelAdmission {
  private readonly perAddress = new Map<string, number>();
  private total = 0;
  private readonly failures = new Map<string, number[]>();
  #shared: SharedFailureWindow | null = null;

  constructor(
    private readonly limits: () => TunnelAdmissionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Unauthenticated connections held now (for health and tests). */
  get pending(): number {
    return this.total;
  }

  /** Cluster hook: failures are also counted in (and decided on) the shared window; null: local only. */
  shareFailures(shared: SharedFailureWindow | null): void {
    this.#shared = shared;
  }

  /**
   * Decides on one upgrade for a configured tunnel. An admitted connection must be released
   * exactly when its handshake ends; a refused one holds nothing.
   */
  admit(tunnelId: string, address: string): TunnelAdmissionDecision {
    const limits = this.limits();
    const now = this.now();
    const source = sourceKey(address);
    const failureKey = `${tunnelId}\0${source}`;
    const local = this.prune(failureKey, now);
    // The cluster-wide window includes this replica's recorded failures: the longer one decides.
    const shared = this.#shared?.failures(failureKey, now) ?? null;
    const window = shared !== null && shared.length > local.length ? shared : local;
    if (window.length >= limits.connectAttemptsPerMinute) {
      const oldest = window[0] ?? now;
      const where = window === local ? '' : ' across the cluster';
      return {
        ok: false,
        limit: 'connectAttemptsPerMinute',
        reason: `${window.length} failed connection attempts for tunnel "${tunnelId}" from ${source}${where} in the last minute (limit ${limits.connectAttemptsPerMinute})`,
        retryAfterSeconds: Math.max(1, Math.ceil((oldest + ATTEMPT_WINDOW_MS - now) / 1000)),
      };
    }
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (fromAddress >= limits.maxUnauthenticatedPerAddress) {
      return {
        ok: false,
        limit: 'maxUnauthenticatedPerAddress',
        reason: `${fromAddress} unauthenticated connections from ${address} (limit ${limits.maxUnauthenticatedPerAddress})`,
        retryAfterSeconds: 1,
      };
    }
    if (this.total >= limits.maxUnauthenticated) {
      return {
        ok: false,
        limit: 'maxUnauthenticated',
        reason: `${this.total} unauthenticated connections in total (limit ${limits.maxUnauthenticated})`,
        retryAfterSeconds: 1,
      };
    }
    this.perAddress.set(address, fromAddress + 1);
    this.total++;
    let released = false;
    return {
      ok: true,
      release: (authenticated = false) => {
        if (released) return;
        released = true;
        // Refused upgrades cost nothing, successes neither: only an admitted attempt that failed counts.
        if (!authenticated) this.recordFailure(failureKey, this.now());
        this.total--;
        const left = (this.perAddress.get(address) ?? 1) - 1;
        if (left <= 0) this.perAddress.delete(address);
        else this.perAddress.set(address, left);
      },
    };
  }

  /** Failure windows held (for tests of the bound). */
  get failureWindows(): number {
    return this.failures.size;
  }

  private recordFailure(key: string, now: number): void {
    const window = this.prune(key, now);
    window.push(now);
    setMostRecent(this.failures, key, window);
    this.#shared?.record(key, this.limits().connectAttemptsPerMinute);
  }

  /** The key's failures within the window, oldest first (expired ones dropped). */
  private prune(key: string, now: number): number[] {
    const window = this.failures.get(key);
    if (window === undefined) return [];
    dropExpired(window, now);
    if (window.length === 0) this.failures.delete(key);
    return window;
  }
}

/** Drops the failures that left the window from the front of `times` (oldest first), in place. */
export function dropExpired(times: number[], now: number): void {
  let drop = 0;
  while (drop < times.length && (times[drop] ?? 0) <= now - ATTEMPT_WINDOW_MS) drop++;
  if (drop > 0) times.splice(0, drop);
}

/**
 * Sets `key` as the most recently failed entry of a failure-window map (re-inserted last), and
 * forgets the least recently failed beyond {@link MAX_FAILURE_WINDOWS}, which bounds the memory a
 * scanner with many source addresses can take.
 */
export function setMostRecent<V>(windows: Map<string, V>, key: string, value: V): void {
  windows.delete(key);
  windows.set(key, value);
  while (windows.size > MAX_FAILURE_WINDOWS) {
    const oldest = windows.keys().next().value;
    if (oldest === undefined) break;
    windows.delete(oldest);
  }
}
