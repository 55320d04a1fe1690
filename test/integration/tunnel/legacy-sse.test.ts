/**
 * Legacy HTTP+SSE (protocol 2024-11-05) through gateway → tunnel → proxy (mcp-passthrough.md #18):
 * the upstream's `event: endpoint` URL is rewritten to `/mcp/{server}/messages?sessionId=…`, so the
 * client's POSTs come back through the gateway to the same upstream session, and with several
 * proxy replicas they travel on the tunnel connection that carries the session's SSE stream.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { UPSTREAM_TOOLS, startLegacySseUpstream, type LegacySseUpstreamHandle } from '../../fixtures/mcp-upstream';
import { Resources, SseParser, waitFor, type SseEvent } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';

const SESSION_ID = /^[0-9a-f-]{36}$/;

interface LegacyClient {
  client: Client;
  transport: SSEClientTransport;
  /** Events of the SSE stream as the client received them, in order. */
  events: SseEvent[];
  /** Status of the SSE GET. */
  getStatus: number;
  close(): Promise<void>;
}

/**
 * A `fetch` for the SDK's EventSource that tees the SSE body, so the test sees every event exactly
 * as it arrived (the `endpoint` event after the gateway's rewrite, then the JSON-RPC messages).
 * Headers are whatever the SDK passes: SDK 1.32 builds the GET's headers from
 * `requestInit.headers` (plus `Accept: text/event-stream`), so no `eventSourceInit.headers` needed.
 */
function teeingFetch(events: SseEvent[], onStatus: (s: number) => void) {
  return async (url: string | URL, init?: RequestInit): Promise<Response> => {
    const res = await fetch(url, init);
    onStatus(res.status);
    if (!res.body) return res;
    const [mine, theirs] = res.body.tee();
    void (async () => {
      const reader = mine.getReader();
      const parser = new SseParser();
      const decoder = new TextDecoder();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          for (const item of parser.push(decoder.decode(value, { stream: true }))) {
            if (item.type === 'event') events.push(item);
          }
        }
      } catch {
        // the stream was aborted (client closed): nothing more to record
      }
    })();
    return new Response(theirs, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

async function connectLegacy(url: URL, apiKey: string, name = 'legacy-it'): Promise<LegacyClient> {
  const events: SseEvent[] = [];
  let getStatus = 0;
  const transport = new SSEClientTransport(url, {
    // The SDK puts requestInit.headers on the SSE GET as well as on every POST.
    requestInit: { headers: { Authorization: `Bearer ${apiKey}` } },
    eventSourceInit: { fetch: teeingFetch(events, (s) => (getStatus = s)) },
  });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    transport,
    events,
    get getStatus() {
      return getStatus;
    },
    close: () => client.close(),
  };
}

function sessionIdOf(endpoint: string): string {
  return new URL(endpoint, 'http://x').searchParams.get('sessionId') ?? '';
}

describe('legacy HTTP+SSE through the tunnel', () => {
  const res = new Resources();
  let upstream: LegacySseUpstreamHandle;
  let h: Harness;

  beforeEach(async () => {
    upstream = res.add(await startLegacySseUpstream());
    h = res.add(await startHarness({ servers: [{ name: 'legacy', url: upstream.url }] }));
  });
  afterEach(() => res.closeAll());

  it('rewrites the endpoint event to the gateway path and keeps every POST on the same upstream session', async () => {
    const c = res.add(await connectLegacy(h.mcpUrl('legacy'), h.apiKey));
    expect(c.getStatus).toBe(200);

    // What the client got: the gateway path, not the upstream's `/messages?sessionId=…`.
    await waitFor(() => c.events.find((e) => e.event === 'endpoint'));
    const endpoint = c.events.find((e) => e.event === 'endpoint')!;
    expect(c.events[0]).toBe(endpoint); // first event of the stream
    expect(endpoint.data).toMatch(/^\/mcp\/legacy\/messages\?sessionId=[0-9a-f-]{36}$/);
    const sid = sessionIdOf(endpoint.data);
    expect(sid).toMatch(SESSION_ID);
    expect(upstream.state.activeSessions.has(sid)).toBe(true);

    const { tools } = await c.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...UPSTREAM_TOOLS].sort());
    const echo = (await c.client.callTool({ name: 'echo', arguments: { text: 'through the tunnel' } })) as CallToolResult;
    expect(echo.content).toEqual([{ type: 'text', text: 'through the tunnel' }]);

    // Progress notifications travel on the SSE stream and arrive before the result.
    const seen: string[] = [];
    const progress = (await c.client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 50 } }, undefined, {
      onprogress: (p) => seen.push(`p${p.progress}`),
    })) as CallToolResult;
    seen.push('result');
    expect(progress.content).toEqual([{ type: 'text', text: 'done 3' }]);
    // On the wire: p1, p2, p3, then the result. (The SDK client runs notification handlers a
    // microtask late but settles responses at once, so two events that arrive in one chunk would
    // lose the progress callback; the wire order is what the tunnel owes.)
    type Msg = { method?: string; params?: { progress?: number }; result?: { content?: Array<{ text?: string }> } };
    const messages = c.events.filter((e) => e.event === undefined || e.event === 'message').map((e) => JSON.parse(e.data) as Msg);
    const order = messages
      .map((m) => (m.method === 'notifications/progress' ? `p${m.params?.progress}` : m.result?.content?.[0]?.text === 'done 3' ? 'result' : null))
      .filter((x): x is string => x !== null);
    expect(order).toEqual(['p1', 'p2', 'p3', 'result']);
    expect(seen.at(-1)).toBe('result');
    expect(seen.filter((x) => x !== 'result')).toEqual(['p1', 'p2', 'p3'].slice(0, seen.length - 1));

    // Upstream: one SSE GET without the gateway credential, and every POST on its session.
    const gets = upstream.state.requestsTo('/sse', 'GET');
    expect(gets).toHaveLength(1);
    expect(gets[0]!.headers.authorization).toBeUndefined();
    expect(gets[0]!.headers.accept).toBe('text/event-stream');
    const posts = upstream.state.requestsTo('/messages', 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(5); // initialize, initialized, list, echo, progress
    for (const post of posts) {
      expect(post.url).toBe(`/messages?sessionId=${sid}`);
      expect(post.status).toBe(202);
      expect(post.headers.authorization).toBeUndefined();
    }
    expect(upstream.state.toolCalls.map((t) => [t.tool, t.sessionId])).toEqual([
      ['echo', sid],
      ['progress', sid],
    ]);

    // The client going away ends the upstream session (the SSE GET is cut end to end).
    await c.close();
    await waitFor(() => !upstream.state.activeSessions.has(sid), { message: 'upstream session to end' });
  });

  it('with two proxy replicas, many sessions all work and every POST follows its SSE stream’s connection', async () => {
    await h.addProxy();
    await waitFor(() => h.gateway.registry.connections('corp').length === 2);
    const conns = h.gateway.registry.connections('corp');

    const N = 10;
    const clients = await Promise.all(Array.from({ length: N }, (_, i) => connectLegacy(h.mcpUrl('legacy'), h.apiKey, `c${i}`)));
    for (const c of clients) res.add(c);
    await Promise.all(
      clients.map(async (c, i) => {
        const { tools } = await c.client.listTools();
        expect(tools.map((t) => t.name)).toContain('echo');
        const r = (await c.client.callTool({ name: 'echo', arguments: { text: `session ${i}` } })) as CallToolResult;
        expect(r.content).toEqual([{ type: 'text', text: `session ${i}` }]);
      }),
    );

    const sids = clients.map((c) => sessionIdOf(c.events.find((e) => e.event === 'endpoint')!.data));
    expect(new Set(sids).size).toBe(N);
    for (const [i, sid] of sids.entries()) {
      expect(sid).toMatch(SESSION_ID);
      // The upstream ran each echo in the session the client's endpoint named.
      expect(upstream.state.toolCalls.find((t) => t.args.text === `session ${i}`)?.sessionId).toBe(sid);
    }

    // Every POST has finished (a result can reach the client on the SSE stream before its POST's 202).
    await waitFor(() => sids.every((sid) => h.gatewayAudit.lines.filter((l) => l.sessionId === sid).length >= 4), {
      message: 'audit records of every POST',
    });

    // Affinity: each session is bound to one connection, and the sessions bound to a connection
    // are exactly the SSE streams open on it (at rest, the only streams in flight are the GETs).
    const boundTo = new Map(sids.map((sid) => [sid, h.gateway.registry.pick('corp', sid)?.id]));
    const perConn = (): Array<[bound: number, active: number]> =>
      conns.map((conn) => [[...boundTo.values()].filter((id) => id === conn.id).length, conn.mux.activeStreams]);
    await waitFor(() => perConn().every(([bound, active]) => bound === active), { message: () => `sessions per connection = streams (${JSON.stringify(perConn())})` });
    for (const [bound] of perConn()) expect(bound).toBeGreaterThan(0); // both replicas carry sessions
    expect(perConn().reduce((n, [bound]) => n + bound, 0)).toBe(N);

    // Every POST of a session went over the connection its session is bound to.
    for (const sid of sids) {
      const posts = h.gatewayAudit.lines.filter((l) => l.sessionId === sid);
      for (const post of posts) {
        expect(post).toMatchObject({ httpMethod: 'POST', path: '/mcp/legacy/messages', status: 202, conn: boundTo.get(sid) });
      }
    }

    await Promise.all(clients.map((c) => c.close()));
    await waitFor(() => upstream.state.activeSessions.size === 0, { message: 'every upstream session to end' });
  });
});
