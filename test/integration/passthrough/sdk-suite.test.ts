/**
 * The "done when" suite: the official SDK (`Client` + `StreamableHTTPClientTransport`, `McpServer` +
 * `StreamableHTTPServerTransport`) on both ends of the tunnel.
 *
 * - 200 concurrent tool calls over one tunnel connection, every answer matched to its call;
 * - progress notifications delivered one by one, each before the next is even sent, all before the result;
 * - an SDK AbortSignal reaches the upstream tool (#9);
 * - SDK resumption with Last-Event-ID through the tunnel, for a POST stream and the standalone stream (#9).
 *
 * The rest of the suite: the 20 MB result in sdk-big-result.test.ts; the raw forms of #9 (a client
 * that cuts its connection, a raw resume) in disconnects.test.ts.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Resources, waitFor } from '../../helpers';
import { startTunnelled, textAt } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

describe('SDK suite through the tunnel', () => {
  it('#5 #11 200 concurrent tool calls (4 sessions) over ONE tunnel connection are all answered correctly', async () => {
    const t = await startTunnelled(res);
    expect(t.h.gateway.registry.connections('corp')).toHaveLength(1);
    const [conn] = t.h.gateway.registry.connections('corp');
    // Half of the calls are `elicit`, whose answers the clients hold back until all 100 of them have
    // reached the clients: proof that 100 calls were in flight through the one connection at once
    // (a tunnel that serialized them would never get there). The other half answer at once.
    const HELD = 100;
    let asked = 0;
    let streamsAtRelease = 0;
    let releaseAll!: () => void;
    const allAsked = new Promise<void>((r) => (releaseAll = r));
    const clients = await Promise.all(
      [0, 1, 2, 3].map(() =>
        t.connect({
          onElicit: async (req) => {
            if (++asked === HELD) {
              streamsAtRelease = conn!.mux.activeStreams;
              releaseAll();
            }
            await allAsked;
            return { action: 'accept', content: { name: req.params.message } };
          },
        }),
      ),
    );
    const calls = Array.from({ length: 200 }, async (_, i) => {
      const c = clients[i % clients.length]!;
      if (i % 2 === 0) {
        const r = (await c.client.callTool({ name: 'elicit', arguments: { message: `call ${i}` } })) as CallToolResult;
        expect(textAt(r, 0)).toBe(JSON.stringify({ action: 'accept', content: { name: `call ${i}` } }));
      } else if (i % 4 === 1) {
        const r = (await c.client.callTool({ name: 'add', arguments: { a: i, b: 1000 } })) as CallToolResult;
        expect(r.structuredContent).toEqual({ sum: i + 1000 });
      } else {
        const r = (await c.client.callTool({ name: 'echo', arguments: { text: `call ${i} ✓` } })) as CallToolResult;
        expect(textAt(r, 0)).toBe(`call ${i} ✓`);
      }
    });
    await Promise.all(calls);

    expect(t.h.gateway.registry.connections('corp').length).toBe(1);
    expect(t.h.gateway.registry.connections('corp')[0]!.id).toBe(conn!.id);
    expect(t.upstream.state.toolCalls).toHaveLength(200);
    for (const c of clients) expect(c.errors).toEqual([]);
    // Every call went over that one connection, many of them at once.
    const records = await waitFor(() => {
      const recs = t.h.gatewayAudit.lines.filter((l) => l.mcpMethod === 'tools/call');
      return recs.length === 200 && recs;
    });
    expect(new Set(records.map((r) => r.conn))).toEqual(new Set([conn!.id]));
    expect(records.every((r) => r.status === 200 && r.outcome === 'ok')).toBe(true);
    // The held calls' streams (plus each session's standalone GET) were all open on it together.
    expect(streamsAtRelease).toBeGreaterThanOrEqual(HELD);
  });

  it('#6 progress notifications arrive one by one — each before the next is sent upstream — and all before the result', async () => {
    const t = await startTunnelled(res);
    const c = await t.connect();
    const STEPS = 5;
    const arrivals: Array<{ what: string; at: number }> = [];
    const result = (await c.client.callTool({ name: 'progress', arguments: { steps: STEPS, intervalMs: 100 } }, undefined, {
      onprogress: (p) => arrivals.push({ what: `progress ${p.progress}/${p.total}`, at: Date.now() }),
    })) as CallToolResult;
    arrivals.push({ what: 'result', at: Date.now() });
    expect(textAt(result, 0)).toBe(`done ${STEPS}`);

    expect(arrivals.map((a) => a.what)).toEqual([1, 2, 3, 4, 5].map((i) => `progress ${i}/${STEPS}`).concat('result'));
    const sends = t.upstream.state.progressSends;
    expect(sends.map((s) => s.progress)).toEqual([1, 2, 3, 4, 5]);
    for (let i = 0; i + 1 < STEPS; i++) {
      // Received by the client before the upstream even produced the next one: nothing was held back.
      expect(arrivals[i]!.at).toBeLessThanOrEqual(sends[i + 1]!.at);
    }
  });

  it('#9 an SDK AbortSignal on callTool reaches the upstream tool (notifications/cancelled through the tunnel)', async () => {
    const t = await startTunnelled(res);
    const c = await t.connect();
    const ac = new AbortController();
    const call = c.client.callTool({ name: 'wait', arguments: { ms: 60_000 } }, undefined, { signal: ac.signal });
    const running = await waitFor(() => t.upstream.state.callsOf('wait')[0]);
    ac.abort(new Error('user pressed stop'));
    await expect(call).rejects.toThrow();
    const aborted = await waitFor(() => t.upstream.state.abortedToolCalls.find((x) => x.tool === 'wait'), { timeoutMs: 3000 });
    expect(aborted).toBe(running);
    expect(aborted.outcome).toBe('aborted');
    expect(aborted.abortReason).toContain('user pressed stop');
    expect(aborted.endedAt! - aborted.startedAt).toBeLessThan(60_000);
  });

  it('#9 the SDK client resumes a POST stream the server closed mid-call (GET + Last-Event-ID), nothing lost or repeated', async () => {
    const t = await startTunnelled(res, { upstream: { eventStore: true, retryInterval: 20 } });
    const c = await t.connect();
    const progress: number[] = [];
    const tokens: string[] = [];
    const result = (await c.client.callTool({ name: 'progress', arguments: { steps: 5, intervalMs: 40, closeStreamAfter: 2 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
      onresumptiontoken: (tok) => tokens.push(tok),
    })) as CallToolResult;
    expect(textAt(result, 0)).toBe('done 5');
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    const resumes = t.upstream.state.requestsTo('/mcp', 'GET').filter((r) => r.headers['last-event-id'] !== undefined);
    expect(resumes).toHaveLength(1);
    expect(tokens).toContain(resumes[0]!.headers['last-event-id']);
    expect(resumes[0]!.headers['mcp-session-id']).toBe(c.transport.sessionId);
    expect(t.upstream.state.callsOf('progress')).toHaveLength(1);
  });

  it('#9 the SDK client resumes its standalone stream through the tunnel after the server drops it', async () => {
    const t = await startTunnelled(res, { upstream: { eventStore: true } });
    const c = await t.connect({
      reconnectionOptions: { initialReconnectionDelay: 50, maxReconnectionDelay: 200, reconnectionDelayGrowFactor: 1, maxRetries: 5 },
    });
    const sessionId = c.transport.sessionId!;
    await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').some((r) => r.status === 200));
    await t.upstream.broadcastLog('before');
    await waitFor(() => c.logs.some((l) => l.data === 'before'));

    // Drop the stream and, before the client can come back, send a message it must not lose.
    t.upstream.sessions.get(sessionId)!.transport.closeStandaloneSSEStream();
    await t.upstream.broadcastLog('while away');
    await waitFor(() => c.logs.some((l) => l.data === 'while away'));
    await t.upstream.broadcastLog('after');
    await waitFor(() => c.logs.some((l) => l.data === 'after'));

    expect(c.logs.map((l) => l.data)).toEqual(['before', 'while away', 'after']);
    const gets = t.upstream.state.requestsTo('/mcp', 'GET');
    expect(gets).toHaveLength(2);
    expect(gets[0]!.headers['last-event-id']).toBeUndefined();
    expect(gets[1]!.headers['last-event-id']).toMatch(/^\d+$/);
    expect(gets[1]!.status).toBe(200);
  });
});
