import type { ConnectedClient } from '../../helpers/mcp-client';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { waitFor } from '../../helpers/wait-for';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { ErrorCode } from '../../../src/protocol';
import { callLoop, expectedIds, mcpClients, readStream, recordStatus, stopCallLoops } from '../rotation/helpers';

describe('make-before-break connection replacement', () => {
  let upstream: StreamableUpstreamHandle;
  let h: Harness;
  let clients: ConnectedClient[] = [];
  const cleanups: Array<() => void> = [];

  beforeEach(async () => {
    upstream = await startStreamableUpstream();
  });
  afterEach(async () => {
    await stopCallLoops();
    for (const c of cleanups.splice(0)) c();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await h.close();
    await upstream.close();
  });

  async function echoConn(): Promise<{ status: number; conn: unknown }> {
    const res = await fetch(h.mcpUrl('echo'), { method: 'POST', headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json' }, body: '{}' });
    await res.arrayBuffer();
    const rid = res.headers.get('x-request-id');
    const record = await waitFor(() => h.gatewayAudit.lines.find((l) => l.status === res.status && l.path === '/mcp/echo' && (rid === null || l.rid === rid) && !seen.has(l)));
    seen.add(record);
    return { status: res.status, conn: record.conn };
  }
  const seen = new Set<Record<string, unknown>>();

  it('gateway GOAWAY with one connection: the new connection is authenticated before the old one closes; the long request finishes on the old one', async () => {
    h = await startHarness({
      servers: [
        { name: 'sse', url: `${upstream.origin}/raw/sse` },
        { name: 'echo', url: `${upstream.origin}/raw/echo-headers` },
      ],
    });
    const status = recordStatus(h.proxy!);
    cleanups.push(() => status.sub.unsubscribe());
    const [old] = h.gateway.registry.connections('corp');
    expect(old).toBeDefined();

    let flowing = false;
    const long = readStream(h, 'sse', '?events=30&intervalMs=30', () => (flowing = true));
    await waitFor(() => flowing, { message: 'the long stream to start' });

    // The gateway drains this connection (as a deploy or rebalancing would).
    old!.mux.goAway(ErrorCode.NO_ERROR, 'rebalancing');
    const both = await waitFor(() => {
      const conns = h.gateway.registry.connections('corp');
      return conns.length === 2 ? conns : null;
    }, { message: 'the replacement to be authenticated while the old connection is still open' });
    const fresh = both.find((c) => c.id !== old!.id)!;
    expect(old!.mux.isClosed).toBe(false);

    // New requests go to the new connection.
    for (let i = 0; i < 3; i++) expect(await echoConn()).toEqual({ status: 200, conn: fresh.id });

    // The long request completes in full on the old connection, which closes only afterwards.
    const result = await long;
    expect(result).toMatchObject({ status: 200, error: null });
    expect(result.ids).toEqual(expectedIds(30));
    await waitFor(() => old!.mux.isClosed, { message: 'the old connection to close once idle' });
    expect(h.gateway.registry.connections('corp').map((c) => c.id)).toEqual([fresh.id]);
    expect(h.gatewayAudit.lines.filter((l) => l.outcome !== 'ok')).toEqual([]);
    // The proxy never reported itself disconnected, and logged the replacement.
    expect(status.states.every((s) => s.state === 'connected')).toBe(true);
    expect(h.logs.find((l) => l.msg === 'replacing tunnel connection (make-before-break)' && l.conn === old!.id)).toBeDefined();
    expect(h.logs.find((l) => l.msg === 'tunnel connection replaced; draining the old one' && l.conn === old!.id && l.replacement === fresh.id)).toBeDefined();
    expect(h.logs.lines.filter((l) => Number(l.level) >= 50)).toEqual([]);
  });

  it('maxConnectionAgeMs: continuous tool calls see zero failures across several recycles', async () => {
    h = await startHarness({
      servers: [{ name: 'notes', url: `${upstream.origin}/mcp` }],
      proxy: (c) => {
        c.maxConnectionAgeMs = 400;
      },
    });
    const seen = new Set<string>();
    const track = setInterval(() => {
      for (const c of h.gateway.registry.connections('corp')) seen.add(c.id);
    }, 10);
    cleanups.push(() => clearInterval(track));
    clients = await mcpClients(h, 4);
    const calls = callLoop(clients);
    await waitFor(() => seen.size >= 5 && calls.ok > 100, { timeoutMs: 15_000, message: 'several recycles under load' });
    await calls.stop();
    expect(calls.failed).toEqual([]);
    expect(h.gatewayAudit.lines.filter((l) => l.outcome !== 'ok' && l.httpMethod === 'POST')).toEqual([]);
    expect(h.logs.lines.filter((l) => l.msg === 'tunnel connection replaced; draining the old one').length).toBeGreaterThanOrEqual(3);
  });
});
