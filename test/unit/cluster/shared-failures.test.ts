import { SharedFailures } from '../../../src/cluster/shared-failures';
import { ATTEMPT_WINDOW_MS, TunnelAdmission, type TunnelAdmissionLimits } from '../../../src/gateway/tunnel-admission';

/** A replica's admission sharing its failures through `ages` (what Redis would answer), on a fake clock. */
function setup(ages: number[][]) {
  let now = 1_000_000;
  let down = false;
  const recorded: Array<{ key: string; cap: number }> = [];
  const store = {
    recordFailure: (key: string, _member: string, _windowMs: number, cap: number) => {
      recorded.push({ key, cap });
      return Promise.resolve(ages.shift() ?? []);
    },
  };
  const limits: TunnelAdmissionLimits = { maxUnauthenticatedPerAddress: 100, maxUnauthenticated: 100, connectAttemptsPerMinute: 3 };
  const a = new TunnelAdmission(() => limits, () => now);
  a.shareFailures(new SharedFailures(store, 'r1', () => down, () => now));
  const fail = async (): Promise<void> => {
    const d = a.admit('corp', '10.0.0.9');
    if (!d.ok) throw new Error(`refused: ${d.reason}`);
    d.release(false);
    await Promise.resolve(); // the store's answer
    await Promise.resolve();
  };
  return { a, recorded, fail, advance: (ms: number) => (now += ms), setDown: (v: boolean) => (down = v) };
}

describe('SharedFailures (the failed-handshake window across replicas)', () => {
  it('refuses on the cluster-wide window Redis answered, though the local one is under the limit', async () => {
    // Redis: two failures elsewhere 20 s and 10 s ago, and this one now.
    const { a, recorded, fail, advance } = setup([[20_000, 10_000, 0]]);
    await fail();
    expect(recorded).toEqual([{ key: 'corp\u000010.0.0.9', cap: 3 }]);
    expect(a.admit('corp', '10.0.0.9')).toMatchObject({
      ok: false,
      limit: 'connectAttemptsPerMinute',
      retryAfterSeconds: 40, // until the oldest (20 s old) leaves the window
      reason: '3 failed connection attempts for tunnel "corp" from 10.0.0.9 across the cluster in the last minute (limit 3)',
    });
    expect(a.admit('corp', '10.0.0.8').ok).toBe(true); // per source
    advance(ATTEMPT_WINDOW_MS - 20_000); // the oldest ages out on the local clock
    expect(a.admit('corp', '10.0.0.9').ok).toBe(true);
  });

  it('uses only the local window while degraded, and records nothing', async () => {
    const { a, recorded, fail, setDown } = setup([[20_000, 10_000, 0]]);
    await fail();
    setDown(true);
    expect(a.admit('corp', '10.0.0.9').ok).toBe(true);
    await fail();
    expect(recorded).toHaveLength(1);
  });

  it('stops counting once unhooked', async () => {
    const { a, fail } = setup([[20_000, 10_000, 0]]);
    await fail();
    a.shareFailures(null);
    expect(a.admit('corp', '10.0.0.9').ok).toBe(true);
  });

  it('keeps the newest answer when two arrive out of order', async () => {
    const pending: Array<(ages: number[]) => void> = [];
    const store = { recordFailure: () => new Promise<number[]>((resolve) => pending.push(resolve)) };
    const shared = new SharedFailures(store, 'r1', () => false, () => 1_000_000);
    shared.record('k', 3);
    shared.record('k', 3);
    pending[1]!([2_000, 1_000, 0]); // the second record's answer: three failures
    await Promise.resolve();
    pending[0]!([0]); // the first record's, late: one failure
    await Promise.resolve();
    expect(shared.failures('k', 1_000_000)).toEqual([998_000, 999_000, 1_000_000]);
  });
});
