import { SharedRates } from '../../../src/cluster/shared-rates';

/** A cluster bucket in memory: `tokens` left, no refill; each take answers when `flush()` runs. */
function fakeStore(tokens: number) {
  const pending: Array<() => void> = [];
  const store = {
    left: tokens,
    calls: 0,
    takeTokens(_key: string, _rate: number, _burst: number, want: number) {
      store.calls += 1;
      return new Promise<{ granted: number; waitMs: number }>((resolve) =>
        pending.push(() => {
          const granted = Math.min(want, store.left);
          store.left -= granted;
          resolve({ granted, waitMs: granted < want ? 1000 : 0 });
        }),
      );
    },
    async flush() {
      while (pending.length > 0) pending.shift()!();
      await new Promise((r) => setImmediate(r));
    },
  };
  return store;
}

const neverLocal = (): number => {
  throw new Error('local bucket used while Redis is up');
};

describe('SharedRates', () => {
  it('grants one overdraft before the first lease arrives, then only what Redis leased', async () => {
    const store = fakeStore(2);
    let t = 0;
    const rates = new SharedRates(store, () => false, () => (t += 100));
    expect(rates.takeToken('k', 1, 2, neverLocal)).toBe(0); // overdraft: does not wait for Redis
    expect(rates.takeToken('k', 1, 2, neverLocal)).toBeGreaterThan(0); // at most one batch (1) of debt
    await store.flush(); // Redis: debt 1 + batch 1 = 2 granted
    expect(rates.takeToken('k', 1, 2, neverLocal)).toBe(0);
    await store.flush(); // bucket empty now
    expect(rates.takeToken('k', 1, 2, neverLocal)).toBeGreaterThan(0);
    await store.flush();
    expect(rates.takeToken('k', 1, 2, neverLocal)).toBeGreaterThan(0);
    expect(store.left).toBe(0);
  });

  it('falls back to the local bucket while degraded', () => {
    const store = fakeStore(100);
    const rates = new SharedRates(store, () => true);
    const local = jest.fn(() => 7);
    expect(rates.takeToken('k', 1, 2, local)).toBe(7);
    expect(local).toHaveBeenCalledWith('k', 1, 2);
    expect(store.calls).toBe(0);
  });
});
