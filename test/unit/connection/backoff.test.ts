import { DEFAULT_PERMANENT_MAX_MS, DEFAULT_PERMANENT_MIN_MS, fullJitterDelay, permanentDelay, reconnectDelayMs } from '../../../src/connection';

describe('reconnect backoff', () => {
  const policy = { baseMs: 100, capMs: 1000 };

  it('full jitter is uniform below min(cap, base * 2^(attempt-1))', () => {
    expect(fullJitterDelay(1, policy, () => 0.999)).toBe(99);
    expect(fullJitterDelay(3, policy, () => 0.5)).toBe(200);
    expect(fullJitterDelay(10, policy, () => 0.999)).toBe(999); // capped
    expect(fullJitterDelay(1, policy, () => 0)).toBe(0);
    expect(fullJitterDelay(10_000, policy, () => 0.5)).toBe(500); // no overflow for huge attempt counts
  });

  it('a permanent failure waits in [permanentMin, permanentMax)', () => {
    const p = { permanentMinMs: DEFAULT_PERMANENT_MIN_MS, permanentMaxMs: DEFAULT_PERMANENT_MAX_MS };
    expect(permanentDelay(p, () => 0)).toBe(DEFAULT_PERMANENT_MIN_MS);
    expect(permanentDelay(p, () => 0.5)).toBe(45_000);
  });

  it('reconnectDelayMs: the long interval when permanent, else jitter but never below Retry-After', () => {
    expect(reconnectDelayMs({ permanent: true, retryAfterMs: 0 }, 1, policy, () => 0)).toBe(DEFAULT_PERMANENT_MIN_MS);
    expect(reconnectDelayMs({ permanent: false, retryAfterMs: 0 }, 2, policy, () => 0.5)).toBe(100);
    expect(reconnectDelayMs({ permanent: false, retryAfterMs: 5000 }, 2, policy, () => 0.5)).toBe(5000);
  });
});
