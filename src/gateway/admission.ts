/**
 * Admission control for proxy connections at `/tunnel/{id}`, decided at the HTTP upgrade, before a
 * WebSocket (or any handshake state) is allocated. Three limits, all live-configurable:
 *
 * - unauthenticated connections per source address (a slow-loris of half-open handshakes),
 * - unauthenticated connections in total,
 * - connection attempts per tunnel per minute (a sliding 60 s window; a proxy hammering with a
 *   wrong secret, or a reconnect storm).
 *
 * A connection counts as unauthenticated from the admitted upgrade until its handshake ends
 * (authenticated, failed, timed out or closed); the caller reports that with {@link Admitted.release}.
 */

/** The limits in force; read on every decision, so a reloaded configuration applies at once. */
export interface AdmissionLimits {
  /** Unauthenticated connections one source address may hold at once. */
  maxUnauthenticatedPerAddress: number;
  /** Unauthenticated connections the gateway holds at once. */
  maxUnauthenticated: number;
  /** Upgrade attempts accepted per tunnel in any 60 s window. */
  connectAttemptsPerMinute: number;
}

/** Which limit refused a connection (stable names, logged as `limit`). */
export type AdmissionLimitName = 'maxUnauthenticatedPerAddress' | 'maxUnauthenticated' | 'connectAttemptsPerMinute';

export interface Admitted {
  ok: true;
  /** Ends the connection's unauthenticated phase. Idempotent. */
  release(): void;
}

export interface Refused {
  ok: false;
  limit: AdmissionLimitName;
  /** Human-readable reason, e.g. `16 unauthenticated connections from 10.0.0.7 (limit 16)`. */
  reason: string;
  /** When a retry could succeed (whole seconds, for `Retry-After`). */
  retryAfterSeconds: number;
}

export type AdmissionDecision = Admitted | Refused;

/** The length of the attempts window. */
export const ATTEMPT_WINDOW_MS = 60_000;

/**
 * Counts unauthenticated connections and recent attempts. Memory is bounded: per-address entries
 * exist only while that address holds a pending handshake (at most `maxUnauthenticated` of them),
 * and per-tunnel windows only for configured tunnels (callers check the tunnel id first), each
 * holding at most `connectAttemptsPerMinute` timestamps.
 */
export class ConnectionAdmission {
  private readonly perAddress = new Map<string, number>();
  private total = 0;
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly limits: () => AdmissionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Unauthenticated connections held now (for health and tests). */
  get pending(): number {
    return this.total;
  }

  /**
   * Decides on one upgrade for a configured tunnel. An admitted connection must be released
   * exactly when its handshake ends; a refused one holds nothing.
   */
  admit(tunnelId: string, address: string): AdmissionDecision {
    const limits = this.limits();
    const now = this.now();
    const window = this.prune(tunnelId, now);
    if (window.length >= limits.connectAttemptsPerMinute) {
      const oldest = window[0] ?? now;
      return {
        ok: false,
        limit: 'connectAttemptsPerMinute',
        reason: `${window.length} connection attempts for tunnel "${tunnelId}" in the last minute (limit ${limits.connectAttemptsPerMinute})`,
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
    // Only admitted attempts count: refused ones cost nothing, and counting them would let a
    // flood from one address lock a tunnel's legitimate proxies out for a whole minute more.
    window.push(now);
    this.attempts.set(tunnelId, window);
    this.perAddress.set(address, fromAddress + 1);
    this.total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perAddress.get(address) ?? 1) - 1;
        if (left <= 0) this.perAddress.delete(address);
        else this.perAddress.set(address, left);
      },
    };
  }

  /** The tunnel's attempts within the window, oldest first (expired ones dropped). */
  private prune(tunnelId: string, now: number): number[] {
    const window = this.attempts.get(tunnelId);
    if (window === undefined) return [];
    let drop = 0;
    while (drop < window.length && (window[drop] ?? 0) <= now - ATTEMPT_WINDOW_MS) drop++;
    if (drop > 0) window.splice(0, drop);
    if (window.length === 0) this.attempts.delete(tunnelId);
    return window;
  }
}
