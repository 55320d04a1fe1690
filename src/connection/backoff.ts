/** Reconnect timing. Pure functions so tests need no clock. */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /** Delay range after a permanent failure (wrong secret, unknown tunnel, pin mismatch). */
  permanentMinMs: number;
  permanentMaxMs: number;
}

export const DEFAULT_PERMANENT_MIN_MS = 30_000;
export const DEFAULT_PERMANENT_MAX_MS = 60_000;

/**
 * "Full jitter" exponential backoff (AWS Architecture Blog): uniform in [0, min(cap, base·2^n)).
 * Spreads a herd of proxies reconnecting after a gateway restart instead of synchronising them.
 * `attempt` starts at 1.
 */
export function fullJitterDelay(attempt: number, policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>, random: () => number = Math.random): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(random() * exp);
}

/** Delay after a permanent failure: a few attempts a minute at most, jittered. */
export function permanentDelay(policy: Pick<BackoffPolicy, 'permanentMinMs' | 'permanentMaxMs'>, random: () => number = Math.random): number {
  return Math.floor(policy.permanentMinMs + random() * (policy.permanentMaxMs - policy.permanentMinMs));
}

/**
 * How long to wait before attempt `attempt + 1` after a failure: the long permanent interval, else
 * full jitter, but never less than what the gateway asked for with `Retry-After`.
 */
export function reconnectDelayMs(
  verdict: { permanent: boolean; retryAfterMs: number },
  attempt: number,
  policy: Pick<BackoffPolicy, 'baseMs' | 'capMs'>,
  random: () => number,
): number {
  if (verdict.permanent) return permanentDelay({ permanentMinMs: DEFAULT_PERMANENT_MIN_MS, permanentMaxMs: DEFAULT_PERMANENT_MAX_MS }, random);
  return Math.max(fullJitterDelay(attempt, policy, random), verdict.retryAfterMs);
}
