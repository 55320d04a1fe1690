/**
 * Fault: the network path between proxy and gateway stalls — packets stop flowing in both
 * directions, but no FIN or RST arrives (a dead NAT entry, a hung middlebox). Only heartbeats can
 * notice. A relay between proxy and gateway stops forwarding while keeping both sockets open.
 *
 * Gateway and proxy run in this process (the fault is in the network, not in a process), with a
 * 200 ms heartbeat on both sides.
 */
import { CloseCode } from '../../../src/protocol';
import { waitFor } from '../../helpers';
import { startRelay, type Relay } from '../../helpers/relay';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { callTool, startToolUpstream, type ToolUpstream } from './helpers';

const HEARTBEAT_MS = 200;
/** Timer and event-loop lateness allowed on top of the protocol's bound (2 CPUs, other suites running). */
const SCHED_SLACK_MS = 150;

describe('fault: stalled network path (no FIN, no RST)', () => {
  let upstream: ToolUpstream | null = null;
  let relay: Relay | null = null;
  let h: Harness | null = null;

  afterEach(async () => {
    await h?.close();
    h = null;
    await relay?.close();
    relay = null;
    await upstream?.close();
    upstream = null;
  });

  it('is detected by heartbeat, fails the in-flight request with 502 at once, and the proxy reconnects', async () => {
    upstream = await startToolUpstream();
    const harness = (h = await startHarness({
      servers: [{ name: 'tools', url: upstream.url }],
      startProxy: false,
      gateway: (c) => {
        c.heartbeat.intervalMs = HEARTBEAT_MS;
      },
    }));
    const gw = harness.gateway;
    const r = (relay = await startRelay(gw.port));
    await harness.addProxy((c) => {
      c.url = `ws://${r.hostPort}/tunnel/corp`;
      c.heartbeat.intervalMs = HEARTBEAT_MS;
      c.reconnect = { baseMs: 50, capMs: 200 };
    });
    expect((await callTool(gw.url, harness.apiKey)).status).toBe(200);
    // Let a few heartbeats flow so that the stall interrupts a live, pinging connection.
    await waitFor(() => r.counters.bytesUp > 0 && Date.now() - r.counters.lastUpAt < HEARTBEAT_MS / 2 && r.counters.lastUpAt > 0, { timeoutMs: 2000 });
    const before = gw.registry.connections('corp');
    expect(before.length).toBeGreaterThan(0);
    const oldIds = new Set(before.map((c) => c.id));
    const closes: Array<{ code: number; at: number }> = [];
    for (const c of before) c.mux.closed$.subscribe((info) => closes.push({ code: info.code, at: Date.now() }));

    // A long call in flight when the path stalls.
    const inFlight = callTool(gw.url, harness.apiKey, { delayMs: 10_000, boundMs: 8000 });
    await waitFor(() => upstream!.received - upstream!.answered >= 1, { timeoutMs: 2000, message: 'the call to reach the upstream' });

    const stalled = r.stall();
    const tStall = Date.now();
    expect(stalled).toBeGreaterThan(0);
    const lastFrameAtGateway = r.counters.lastUpAt;

    // The gateway declares the proxy dead (close 4504) and fails the call with 502.
    const outcome = await inFlight;
    const tFailed = Date.now();
    expect({ status: outcome.status, code: outcome.code }).toEqual({ status: 502, code: 'TUNNEL_CONNECTION_LOST' });
    await waitFor(() => closes.length === before.length, { timeoutMs: 2000, message: 'the stalled connections to close' });
    expect(closes.every((c) => c.code === CloseCode.HEARTBEAT_TIMEOUT)).toBe(true);
    const detectedAt = Math.min(...closes.map((c) => c.at));
    const silence = detectedAt - lastFrameAtGateway;
    // Declared dead only after two silent intervals, and no later than the silence check that follows
    // them (four checks per interval; see heartbeat-deadline.test.ts).
    expect(silence).toBeGreaterThanOrEqual(2 * HEARTBEAT_MS);
    expect(silence).toBeLessThanOrEqual(2.25 * HEARTBEAT_MS + SCHED_SLACK_MS);
    // The call fails because of that close (its code says so), not at a later silence check: well within
    // one interval of it, with the same slack the scheduler gets above (the machine is shared).
    expect(tFailed - detectedAt).toBeLessThan(HEARTBEAT_MS + SCHED_SLACK_MS);

    // The proxy noticed too, and reconnected through the relay (which forwards new connections).
    await waitFor(() => gw.registry.connections('corp').some((c) => !oldIds.has(c.id)), { timeoutMs: 5000, message: 'a new connection' });
    const tBack = Date.now();
    expect((await callTool(gw.url, harness.apiKey)).status).toBe(200);

    console.log(
      [
        `stall: gateway closed with ${closes.map((c) => c.code).join(',')} ${detectedAt - tStall} ms after the stall, ${silence} ms after the last frame it received (interval ${HEARTBEAT_MS} ms)`,
        `in-flight call: ${outcome.status} ${outcome.code ?? ''} ${tFailed - tStall} ms after the stall`,
        `proxy reconnected ${tBack - tStall} ms after the stall; relay: ${r.counters.accepted} connections, ${r.counters.chunksDropped} chunks swallowed while stalled`,
      ].join('\n'),
    );
  }, 20_000);
});
