/**
 * Gateway-side resumption with in-process proxies: a lost tunnel connection and a proxy drain under
 * open GET streams and streaming tool calls. The upstream is the SDK's StreamableHTTPServerTransport
 * with an event store (ids on every event); the clients are raw (a cut is a disconnect, never
 * hidden by a client-side reconnect).
 */
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import type { RunningProxy } from '../../../src/proxy';
import { RawSession, idsIncreasing, isRun, progressOf, ticksOf, type StreamLog } from './streams';

const SESSIONS = 6;
const CALLS = 4;
const STEPS = 30;

let h: Harness | null = null;
let upstream: StreamableUpstreamHandle | null = null;
let sessions: RawSession[] = [];
let ticking: NodeJS.Timeout | null = null;

afterEach(async () => {
  if (ticking) clearInterval(ticking);
  ticking = null;
  await Promise.all(sessions.map((s) => s.close()));
  sessions = [];
  await h?.close();
  h = null;
  await upstream?.close();
  upstream = null;
});

async function setUp(eventStore: boolean): Promise<{ harness: Harness; up: StreamableUpstreamHandle; a: RunningProxy }> {
  const up = (upstream = await startStreamableUpstream({ eventStore, keepAliveMs: 0 }));
  const harness = (h = await startHarness({ servers: [{ name: 'notes', url: up.url }], startProxy: false }));
  const a = await harness.addProxy((c) => (c.name = 'replica-a'));
  await harness.addProxy((c) => (c.name = 'replica-b'));
  const url = harness.mcpUrl('notes').href;
  sessions = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => RawSession.open(url, harness.apiKey, i)));
  await Promise.all(sessions.map((s) => s.openGet()));
  await waitFor(() => up.sessions.size === SESSIONS && [...up.sessions.values()].every((s) => s.transport !== undefined), { message: 'sessions up' });
  return { harness, up, a };
}

/** Broadcasts `tick n` every 15 ms; returns the number sent so far. */
function startTicks(up: StreamableUpstreamHandle): () => number {
  let n = 0;
  ticking = setInterval(() => void up.broadcastLog(`tick ${++n}`), 15);
  return () => n;
}

function connsOf(harness: Harness, name: string) {
  return harness.gateway.registry.connections('corp').filter((c) => c.proxyName === name);
}

function expectExactlyOnce(gets: StreamLog[], calls: StreamLog[], lastTick: number): void {
  for (const g of gets) {
    expect({ end: g.end, error: g.error }).toEqual({ end: 'open', error: undefined });
    const ticks = ticksOf(g);
    expect(isRun(ticks, ticks[0] ?? 1, lastTick)).toBe(true);
    expect(idsIncreasing(g)).toBe(true);
  }
  for (const c of calls) {
    expect({ end: c.end, error: c.error }).toEqual({ end: 'ended', error: undefined });
    const { progress, result } = progressOf(c);
    expect({ progress, result }).toEqual({ progress: Array.from({ length: STEPS }, (_, i) => i + 1), result: `done ${STEPS}` });
    expect(idsIncreasing(c)).toBe(true);
  }
}

describe('continuity: SSE streams survive the loss of their tunnel connection', () => {
  it('a lost connection: every GET stream and tool call goes on, every event exactly once and in order', async () => {
    const { harness, up } = await setUp(true);
    const sent = startTicks(up);
    const calls = sessions.slice(0, CALLS).map((s, i) => s.callProgress(100 + i, STEPS, 20));
    await waitFor(() => sent() >= 10 && up.state.progressSends.length >= CALLS * 3, { message: 'load running' });
    const [lost] = connsOf(harness, 'replica-a');
    expect(lost!.mux.activeStreams).toBeGreaterThan(0);
    lost!.mux.close(4000, 'test: connection lost');
    await waitFor(() => up.state.progressSends.length >= CALLS * STEPS, { timeoutMs: 10_000, message: 'tool calls done' });
    const results = await Promise.all(calls);
    const last = sent();
    clearInterval(ticking!);
    await waitFor(() => sessions.every((s) => ticksOf(s.get).at(-1) === last), { message: 'last tick everywhere' });
    expectExactlyOnce(sessions.map((s) => s.get), results, last);
    // The audit shows the resumptions, and the connections used.
    await Promise.all(sessions.map((s) => s.close()));
    await waitFor(() => harness.gatewayAudit.lines.filter((l) => l.httpMethod === 'GET').length === SESSIONS, { message: 'GET records' });
    const resumed = harness.gatewayAudit.lines.filter((l) => typeof l.resumptions === 'number' && l.resumptions > 0);
    expect(resumed.length).toBeGreaterThan(0);
    for (const r of resumed) expect((r.conns as string[])[0]).toBe(lost!.id);
  }, 20_000);

  it('a proxy drain hands its SSE streams over at once instead of waiting for them', async () => {
    const { harness, up, a } = await setUp(true);
    const sent = startTicks(up);
    const calls = sessions.slice(0, CALLS).map((s, i) => s.callProgress(200 + i, STEPS, 20));
    await waitFor(() => sent() >= 10 && up.state.progressSends.length >= CALLS * 3, { message: 'load running' });
    const proxies = harness.gateway.registry.connections('corp');
    const onA = connsOf(harness, 'replica-a')[0]!;
    expect(onA.mux.activeStreams).toBeGreaterThan(0);
    expect(proxies.length).toBe(2);
    // The drain grace is far longer than this test may run: it passes only if the streams moved.
    const t0 = Date.now();
    await a.close(120_000);
    const drainMs = Date.now() - t0;
    const results = await Promise.all(calls);
    const last = sent();
    clearInterval(ticking!);
    await waitFor(() => sessions.every((s) => ticksOf(s.get).at(-1) === last), { message: 'last tick everywhere' });
    expectExactlyOnce(sessions.map((s) => s.get), results, last);
    console.log(`proxy drain with ${SESSIONS} GET streams and ${CALLS} tool calls open: ${drainMs} ms`);
  }, 20_000);

  it('an upstream without event ids: the streams are cut as before, nothing hangs, no resumption', async () => {
    const { harness, up } = await setUp(false);
    startTicks(up);
    const call = sessions[0]!.callProgress(300, STEPS, 20);
    await waitFor(() => up.state.progressSends.length >= 3 && sessions.every((s) => ticksOf(s.get).length >= 2), { message: 'load running' });
    for (const c of harness.gateway.registry.connections('corp')) c.mux.close(4000, 'test: connection lost');
    const result = await call;
    expect(result.end).toBe('failed');
    await waitFor(() => sessions.every((s) => s.get.end === 'failed'), { message: 'every GET stream cut' });
    expect(harness.gatewayAudit.lines.filter((l) => l.resumptions !== undefined)).toEqual([]);
  }, 20_000);
});
