import { ATTEMPT_WINDOW_MS, TunnelAdmission, MAX_FAILURE_WINDOWS, sourceKey, type TunnelAdmissionLimits } from '../../../src/gateway/tunnel-admission';

function setup(limits: Partial<TunnelAdmissionLimits> = {}) {
  let now = 1_000_000;
  const current: TunnelAdmissionLimits = { maxUnauthenticatedPerAddress: 2, maxUnauthenticated: 3, connectAttemptsPerMinute: 100, ...limits };
  const a = new TunnelAdmission(() => current, () => now);
  return { a, current, advance: (ms: number) => (now += ms) };
}

describe('TunnelAdmission', () => {
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

  it('caps FAILED attempts per tunnel and source address in a sliding minute, with a Retry-After until the oldest expires', () => {
    const { a, advance } = setup({ connectAttemptsPerMinute: 3, maxUnauthenticatedPerAddress: 100, maxUnauthenticated: 100 });
    for (let i = 0; i < 3; i++) {
      const d = a.admit('corp', 'x');
      if (d.ok) d.release();
      advance(10_000);
    }
    const refused = a.admit('corp', 'x');
    expect(refused).toMatchObject({ ok: false, limit: 'connectAttemptsPerMinute', retryAfterSeconds: 30, reason: '3 failed connection attempts for tunnel "corp" from x in the last minute (limit 3)' });
    expect(a.admit('other', 'x').ok).toBe(true); // per tunnel
    expect(a.admit('corp', 'y').ok).toBe(true); // per source address
    advance(ATTEMPT_WINDOW_MS - 30_000); // the first failure leaves the window
    const again = a.admit('corp', 'x');
    expect(again.ok).toBe(true);
    if (again.ok) again.release();
    expect(a.admit('corp', 'x').ok).toBe(false);
  });

  it('regression (issue 8 defect 11): successful handshakes never count, so a reconnect storm of real proxies is never refused', () => {
    const { a } = setup({ connectAttemptsPerMinute: 2, maxUnauthenticatedPerAddress: 100, maxUnauthenticated: 100 });
    for (let i = 0; i < 50; i++) {
      const d = a.admit('corp', '10.0.0.1');
      expect(d.ok).toBe(true);
      if (d.ok) {
        d.release(true);
        d.release(false); // idempotent: the first call decided
      }
    }
    expect(a.failureWindows).toBe(0);
  });

  it('regression (issue 8 defect 11): anonymous failures from one source do not lock out another', () => {
    const { a } = setup({ connectAttemptsPerMinute: 2, maxUnauthenticatedPerAddress: 100, maxUnauthenticated: 100 });
    for (let i = 0; i < 10; i++) {
      const d = a.admit('corp', '203.0.113.9');
      if (d.ok) d.release();
    }
    expect(a.admit('corp', '203.0.113.9').ok).toBe(false);
    expect(a.admit('corp', '198.51.100.7').ok).toBe(true);
  });

  it('counts IPv6 sources by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(sourceKey('192.0.2.1')).toBe('192.0.2.1');
    const { a } = setup({ connectAttemptsPerMinute: 1, maxUnauthenticatedPerAddress: 100, maxUnauthenticated: 100 });
    const d = a.admit('corp', '2001:db8:1:2::1');
    if (d.ok) d.release();
    expect(a.admit('corp', '2001:db8:1:2::ffff').ok).toBe(false);
    expect(a.admit('corp', '2001:db8:1:3::1').ok).toBe(true);
  });

  it(`keeps at most ${MAX_FAILURE_WINDOWS} failure windows`, () => {
    const { a } = setup({ connectAttemptsPerMinute: 5, maxUnauthenticatedPerAddress: 100, maxUnauthenticated: 100 });
    for (let i = 0; i < MAX_FAILURE_WINDOWS + 50; i++) {
      const d = a.admit('corp', `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      if (d.ok) d.release();
    }
    expect(a.failureWindows).toBe(MAX_FAILURE_WINDOWS);
  });

  it('reads the limits on every decision (config reload)', () => {
    const { a, current } = setup({ maxUnauthenticatedPerAddress: 1 });
    expect(a.admit('corp', 'x').ok).toBe(true);
    expect(a.admit('corp', 'x').ok).toBe(false);
    current.maxUnauthenticatedPerAddress = 2;
    expect(a.admit('corp', 'x').ok).toBe(true);
  });
});
