/**
 * Passthrough items 4, 5 and 12 (responses): 202 with an empty body for notifications and client
 * responses; JSON and SSE answers with exact status, content type and body; upstream status codes
 * (400/404/405/409, and the upstream's own 5xx) never rewritten. Each raw check sends the same request
 * directly to the upstream and through the tunnel and compares the two.
 */
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Resources, connectClient, readSseEvents } from '../../helpers';
import {
  INITIALIZED_BODY,
  POST_HEADERS,
  endToEnd,
  fetchAll,
  initializeBody,
  rawSession,
  startTunnelled,
  toolCallBody,
  type FetchedResponse,
  type Tunnelled,
} from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

/** Sends `init` (plus the API key through the tunnel) both ways; returns [direct, tunnelled]. */
async function both(t: Tunnelled, init: RequestInit, directUrl = t.upstream.url, tunnelUrl: string | URL = t.mcpUrl): Promise<[FetchedResponse, FetchedResponse]> {
  const headers = (init.headers ?? {}) as Record<string, string>;
  const direct = await fetchAll(directUrl, init);
  const tunnelled = await fetchAll(tunnelUrl, { ...init, headers: { ...t.auth, ...headers } });
  return [direct, tunnelled];
}

/** Same status, same body bytes, same end-to-end headers (session ids may differ). */
function expectSameAnswer(direct: FetchedResponse, tunnelled: FetchedResponse, sessionHeader = false): void {
  expect(tunnelled.status).toBe(direct.status);
  expect(tunnelled.body).toBe(direct.body);
  const drop = sessionHeader ? ['mcp-session-id'] : [];
  expect(endToEnd(tunnelled.headers, drop)).toEqual(endToEnd(direct.headers, drop));
}

describe('passthrough: responses', () => {
  it('#4 a notification gets 202 with an empty body, exactly as the upstream sent it', async () => {
    const t = await startTunnelled(res);
    const direct = await rawSession(t.upstream.url);
    const viaTunnel = await rawSession(t.mcpUrl, t.auth);
    const d = await fetchAll(t.upstream.url, { method: 'POST', headers: { ...POST_HEADERS, ...direct.headers }, body: INITIALIZED_BODY });
    const v = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...viaTunnel.headers }, body: INITIALIZED_BODY });
    expect(d.status).toBe(202);
    expect(v.body).toBe('');
    expectSameAnswer(d, v, true);
  });

  it('#4 a client response (an answer to a server request) gets 202 with an empty body', async () => {
    const t = await startTunnelled(res);
    const direct = await rawSession(t.upstream.url);
    const viaTunnel = await rawSession(t.mcpUrl, t.auth);
    // A JSON-RPC response the server did not ask for is still accepted with 202 by the SDK.
    const answer = JSON.stringify({ jsonrpc: '2.0', id: 'srv-1', result: {} });
    const d = await fetchAll(t.upstream.url, { method: 'POST', headers: { ...POST_HEADERS, ...direct.headers }, body: answer });
    const v = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...viaTunnel.headers }, body: answer });
    expect(d.status).toBe(202);
    expect(v.body).toBe('');
    expectSameAnswer(d, v, true);
  });

  it.each([202, 204])('#4 an upstream %i without a body stays exactly that', async (code) => {
    const t = await startTunnelled(res);
    const path = `/raw/status/${code}?body=&header=X-Upstream:yes`;
    const [d, v] = await both(t, { method: 'POST', body: '{}' }, t.direct(path), t.viaTunnel(path));
    expect(d.status).toBe(code);
    expect(d.body).toBe('');
    expectSameAnswer(d, v);
  });

  it('#5 JSON responses (enableJsonResponse): status, content type and body exact', async () => {
    const t = await startTunnelled(res, { upstream: { enableJsonResponse: true } });
    const [di, vi] = await both(t, { method: 'POST', headers: { ...POST_HEADERS }, body: initializeBody(7) });
    expect(di.status).toBe(200);
    expect(di.headers['content-type']).toBe('application/json');
    expectSameAnswer(di, vi, true);

    const direct = await rawSession(t.upstream.url);
    const viaTunnel = await rawSession(t.mcpUrl, t.auth);
    const call = toolCallBody(9, 'add', { a: 40, b: 2 });
    const d = await fetchAll(t.upstream.url, { method: 'POST', headers: { ...POST_HEADERS, ...direct.headers }, body: call });
    const v = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...viaTunnel.headers }, body: call });
    expect(JSON.parse(d.body)).toMatchObject({ id: 9, result: { structuredContent: { sum: 42 } } });
    expectSameAnswer(d, v, true);
  });

  it('#5 the SDK client works against a JSON-answering upstream through the tunnel', async () => {
    const t = await startTunnelled(res, { upstream: { enableJsonResponse: true } });
    const c = await t.connect();
    const r = (await c.client.callTool({ name: 'echo', arguments: { text: 'json ✓' } })) as CallToolResult;
    expect(r.content).toEqual([{ type: 'text', text: 'json ✓' }]);
  });

  it('#5 SSE responses: status, content type and body exact', async () => {
    const t = await startTunnelled(res);
    const [di, vi] = await both(t, { method: 'POST', headers: { ...POST_HEADERS }, body: initializeBody(3) });
    expect(di.headers['content-type']).toBe('text/event-stream');
    expectSameAnswer(di, vi, true);

    const direct = await rawSession(t.upstream.url);
    const viaTunnel = await rawSession(t.mcpUrl, t.auth);
    const call = toolCallBody('c-1', 'echo', { text: 'line1\nline2 ✓' });
    const d = await fetchAll(t.upstream.url, { method: 'POST', headers: { ...POST_HEADERS, ...direct.headers }, body: call });
    const v = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...viaTunnel.headers }, body: call });
    expect(d.status).toBe(200);
    expect(d.body).toMatch(/^event: message\ndata: \{/);
    expectSameAnswer(d, v, true);
  });

  it('#5 a non-MCP body and headers of any status pass byte for byte (raw route)', async () => {
    const t = await startTunnelled(res);
    const path = '/raw/status/201?body=%7B%22x%22%3A%22%C3%A9%22%7D%0A&header=X-Custom:one&header=Cache-Control:no-store';
    const [d, v] = await both(t, { method: 'POST', body: '{}' }, t.direct(path), t.viaTunnel(path));
    expect(d.status).toBe(201);
    expect(d.body).toBe('{"x":"é"}\n');
    expectSameAnswer(d, v);
  });

  it.each([400, 404, 405, 409, 422, 429, 500, 502, 503])('#12 an upstream %i keeps its status, headers and body', async (code) => {
    const t = await startTunnelled(res);
    const path = `/raw/status/${code}?header=Retry-After:7&header=X-Upstream:yes`;
    const [d, v] = await both(t, { method: 'POST', body: '{}' }, t.direct(path), t.viaTunnel(path));
    expect(d.status).toBe(code);
    expect(v.headers['x-upstream']).toBe('yes');
    // Not the gateway's own error body (that one names a TUNNEL_* code).
    expect(v.body).not.toContain('TUNNEL_');
    expectSameAnswer(d, v);
  });

  describe('#12 the SDK server’s own status codes', () => {
    it('#12 400 for a request without a session id', async () => {
      const t = await startTunnelled(res);
      const [d, v] = await both(t, { method: 'POST', headers: { ...POST_HEADERS }, body: toolCallBody(1, 'echo', { text: 'x' }) });
      expect(d.status).toBe(400);
      expectSameAnswer(d, v);
    });

    it('#12 400 for an unsupported MCP-Protocol-Version', async () => {
      const t = await startTunnelled(res);
      const direct = await rawSession(t.upstream.url);
      const viaTunnel = await rawSession(t.mcpUrl, t.auth);
      const body = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      const bad = { 'mcp-protocol-version': '1999-01-01' };
      const d = await fetchAll(t.upstream.url, { method: 'POST', headers: { ...POST_HEADERS, ...direct.headers, ...bad }, body });
      const v = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...viaTunnel.headers, ...bad }, body });
      expect(d.status).toBe(400);
      expect(d.body).toContain('Unsupported protocol version');
      expectSameAnswer(d, v);
    });

    it('#12 404 for an unknown session, on POST, GET and DELETE; the SDK client sees 404', async () => {
      const t = await startTunnelled(res);
      const gone = { 'mcp-session-id': 'no-such-session', 'mcp-protocol-version': '2025-11-25' };
      for (const init of [
        { method: 'POST', headers: { ...POST_HEADERS, ...gone }, body: toolCallBody(1, 'echo', { text: 'x' }) },
        { method: 'GET', headers: { accept: 'text/event-stream', ...gone } },
        { method: 'DELETE', headers: gone },
      ]) {
        const [d, v] = await both(t, init);
        expect(d.status).toBe(404);
        expectSameAnswer(d, v);
      }
      const c = res.add(
        await connectClient(t.mcpUrl, { sessionId: 'no-such-session', headers: { Authorization: t.auth.authorization! } }),
      );
      const err = await c.client.callTool({ name: 'echo', arguments: { text: 'x' } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StreamableHTTPError);
      expect((err as StreamableHTTPError).code).toBe(404);
    });

    it('#12 405 for GET and DELETE on a stateless upstream', async () => {
      const t = await startTunnelled(res, { upstream: { stateless: true } });
      for (const init of [{ method: 'GET', headers: { accept: 'text/event-stream' } }, { method: 'DELETE' }]) {
        const [d, v] = await both(t, init);
        expect(d.status).toBe(405);
        expect(v.headers.allow).toBe('POST');
        expectSameAnswer(d, v);
      }
    });
  });

  it('#5 an SSE answer with notifications before the result keeps every event, in order', async () => {
    const t = await startTunnelled(res);
    const { headers } = await rawSession(t.mcpUrl, t.auth);
    const r = await fetch(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...headers }, body: toolCallBody(4, 'notifyLog', { count: 2 }) });
    expect(r.status).toBe(200);
    const events = await readSseEvents(r);
    expect(events.map((e) => (JSON.parse(e.data) as { method?: string; id?: number }).method ?? (JSON.parse(e.data) as { id: number }).id)).toEqual([
      'notifications/message',
      'notifications/message',
      4,
    ]);
  });
});
