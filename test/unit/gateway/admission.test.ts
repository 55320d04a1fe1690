import { ATTEMPT_WINDOW_MS, ConnectionAdmission, type AdmissionLimits } from '../../../src/gateway/admission';

function setup(limits: Partial<AdmissionLimits> = {}) {
  let now = 1_000_000;
  const current: AdmissionLimits = { maxUnauthenticatedPerAddress: 2, maxUnauthenticated: 3, connectAttemptsPerMinute: 100, ...limits };
  const a = new ConnectionAdmission(() => current, () => now);
  return { a, current, advance: (ms: number) => (now += ms) };
}

describe('ConnectionAdmission', () => {
  it('caps unauthenticated connections per address and frees a slot on release (idempotent)', () => {
    const { a } = setup();
    const first = a.admit('corp', '10.0.0.1');
    const second = a.admit('corp', '10.0.0.1');
    expect(first.ok && second.ok).toBe(true);
    expect(a.admit('corp', '10.0.0.1')).toMatchObject({ ok: false, limit: 'maxUnauthenticatedPerAddress', reason: '2 unauthenticated connections from 10.0.0.1 (limit 2)' });
    if (!first.ok) throw new Error('unreachable');
    first.release();
    first.release();
    expect(a.pending).toBe(1);
    expect(a.admit('corp', '10.0.0.1').ok).toBe(true);
  });

  it('caps unauthenticated connections in total', () => {
    const { a } = setup();
    expect([a.admit('corp', 'a'), a.admit('corp', 'b'), a.admit('corp', 'c')].every((d) => d.ok)).toBe(true);
    expect(a.admit('corp', 'd')).toMatchObject({ ok: false, limit: 'maxUnauthenticated' });
  });

  it('caps attempts per tunnel in a sliding minute, with a Retry-After until the oldest expires', () => {
    const { a, advance } = setup({ connectAttemptsPerMinute: 3, maxUnauthenticatedPerAddress: 100, maxUnauthenticated: 100 });
    for (let i = 0; i < 3; i++) {
      const d = a.admit('corp', 'x');
      if (d.ok) d.release();
      advance(10_000);
    }
    const refused = a.admit('corp', 'x');
    expect(refused).toMatchObject({ ok: false, limit: 'connectAttemptsPerMinute', retryAfterSeconds: 30 });
    expect(a.admit('other', 'x').ok).toBe(true); // per tunnel
    advance(ATTEMPT_WINDOW_MS - 30_000); // the first attempt leaves the window
    expect(a.admit('corp', 'x').ok).toBe(true);
    expect(a.admit('corp', 'x').ok).toBe(false);
  });

  it('reads the limits on every decision (config reload)', () => {
    const { a, current } = setup({ maxUnauthenticatedPerAddress: 1 });
    expect(a.admit('corp', 'x').ok).toBe(true);
    expect(a.admit('corp', 'x').ok).toBe(false);
    current.maxUnauthenticatedPerAddress = 2;
    expect(a.admit('corp', 'x').ok).toBe(true);
  });
});
