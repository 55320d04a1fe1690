import type { Subscription } from 'rxjs';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { waitFor } from '../../helpers/wait-for';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import type { ProxyStatus } from '../../../src/proxy';
import { startGateway } from '../../../src/gateway';

/** Active handles by type (sockets, timers, …), without the ones that come and go per request. */
function resources(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

describe('reconnect', () => {
  let upstream: StreamableUpstreamHandle;
  let h: Harness;
  const subs: Subscription[] = [];

  beforeEach(async () => {
    upstream = await startStreamableUpstream();
  });
  afterEach(async () => {
    for (const s of subs.splice(0)) s.unsubscribe();
    await h.close();
    await upstream.close();
  });

  /** Closes the gateway side of every connection as soon as the proxy reports it authenticated. */
  function cutEveryConnection(onConnected?: () => void): { connects: number; states: ProxyStatus[] } {
    const seen = { connects: 0, states: [] as ProxyStatus[] };
    subs.push(
      h.proxy!.status$.subscribe((s) => {
        seen.states.push(s);
        if (s.state !== 'connected') return;
        seen.connects++;
        onConnected?.();
        setImmediate(() => {
          for (const c of h.gateway.registry.connections('corp')) c.mux.close(4000, 'test: cut after auth');
        });
      }),
    );
    return seen;
  }

  it('200 reconnect cycles leave no sockets, timers or listeners behind; the backoff does not reset on a short-lived session', async () => {
    h = await startHarness({
      servers: [{ name: 'echo', url: `${upstream.origin}/raw/echo-headers` }],
      proxy: (c) => {
        c.reconnect = { baseMs: 1, capMs: 2, stableMs: 60_000 };
      },
      gateway: (c) => {
        c.limits.connectAttemptsPerMinute = 100_000;
      },
    });
    // Baseline: connected and idle, one warm-up cycle done.
    const baseline = resources();
    const listeners = process.listenerCount('warning') + process.listenerCount('exit');
    const seen = cutEveryConnection();
    await waitFor(() => seen.connects >= 200, { timeoutMs: 45_000, message: () => `200 reconnects (have ${seen.connects})` });
    subs.splice(0).forEach((s) => s.unsubscribe());
    await waitFor(() => h.gateway.registry.connections('corp').length === 1 && h.proxy !== null, { message: 'the last reconnect' });

    // The attempt count kept growing: a session that drops at once never resets the backoff.
    const waits = seen.states.filter((s): s is Extract<ProxyStatus, { state: 'waiting' }> => s.state === 'waiting');
    expect(waits.length).toBeGreaterThanOrEqual(199);
    expect(waits[waits.length - 1]!.attempt).toBeGreaterThanOrEqual(199);
    expect(h.logs.lines.filter((l) => l.msg === 'tunnel connection had been stable; reconnect backoff reset')).toEqual([]);
    // Every close was the gateway's "going away": info, not warnings or errors.
    expect(h.logs.lines.filter((l) => l.msg === 'tunnel connection lost or failed; reconnecting')).toEqual([]);

    await waitFor(
      () => {
        const now = resources();
        return Object.entries(now).every(([k, n]) => n <= (baseline[k] ?? 0) + 1) ? now : null;
      },
      { timeoutMs: 10_000, message: () => `handles back to baseline ${JSON.stringify(baseline)}, now ${JSON.stringify(resources())}` },
    );
    expect(process.listenerCount('warning') + process.listenerCount('exit')).toBe(listeners);
  });

  it('the backoff starts over once a session stayed authenticated for reconnect.stableMs', async () => {
    h = await startHarness({
      servers: [{ name: 'echo', url: `${upstream.origin}/raw/echo-headers` }],
      proxy: (c) => {
        c.reconnect = { baseMs: 1, capMs: 2, stableMs: 300 };
      },
    });
    const states: ProxyStatus[] = [];
    subs.push(h.proxy!.status$.subscribe((s) => states.push(s)));
    // Three quick cuts: attempts 1, 2, 3.
    for (let i = 0; i < 3; i++) {
      const n = states.filter((s) => s.state === 'waiting').length;
      for (const c of h.gateway.registry.connections('corp')) c.mux.close(4000, 'quick cut');
      await waitFor(() => states.filter((s) => s.state === 'waiting').length > n && h.gateway.registry.connections('corp').length === 1);
    }
    const quick = states.filter((s): s is Extract<ProxyStatus, { state: 'waiting' }> => s.state === 'waiting').map((s) => s.attempt);
    expect(quick).toEqual([1, 2, 3]);
    // Stay up past stableMs, then cut: attempt 1 again.
    const upSince = Date.now();
    await waitFor(() => Date.now() - upSince > 350, { intervalMs: 50 });
    for (const c of h.gateway.registry.connections('corp')) c.mux.close(4000, 'cut after a stable session');
    await waitFor(() => states.filter((s) => s.state === 'waiting').length === 4);
    expect(states.filter((s): s is Extract<ProxyStatus, { state: 'waiting' }> => s.state === 'waiting').map((s) => s.attempt)).toEqual([1, 2, 3, 1]);
    expect(h.logs.find((l) => l.msg === 'tunnel connection had been stable; reconnect backoff reset')).toMatchObject({ level: 30, attempt: 3 });
  });

  it('gateway shutdown: GOAWAY then 4000 is "reconnect soon" at info, and the proxy is back when a gateway listens again', async () => {
    h = await startHarness({
      servers: [{ name: 'echo', url: `${upstream.origin}/raw/echo-headers` }],
      proxy: (c) => {
        c.reconnect = { baseMs: 20, capMs: 100, stableMs: 10_000 };
      },
    });
    const port = h.gateway.port;
    const old = h.gateway;
    await old.close(1000);
    await waitFor(() => h.logs.find((l) => l.msg === 'gateway is going away; reconnecting soon'), { message: 'the info line' });
    expect(h.logs.lines.filter((l) => l.component === 'connection' && Number(l.level) >= 40)).toEqual([]);
    // A new gateway on the same port: the proxy comes back on its own.
    const again = await startGateway({ ...h.gatewayConfig, listen: { host: '127.0.0.1', port } }, { logger: h.logs.logger, auditLogger: h.gatewayAudit.logger });
    try {
      await waitFor(() => again.registry.connections('corp').length === 1, { message: 'the proxy to reconnect to the new gateway' });
    } finally {
      await Promise.all([h.proxy!.close(0)]);
      await again.close(0);
    }
  });
});
