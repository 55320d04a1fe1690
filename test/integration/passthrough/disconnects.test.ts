/**
 * Passthrough item 9 (disconnects), raw forms: a client that closes its HTTP connection — mid-SSE or
 * before any response byte — makes the upstream see its request closed within a bounded time; a
 * dropped GET stream resumes through the tunnel with `Last-Event-ID`. The SDK forms are in
 * sdk-suite.test.ts.
 */
import http from 'node:http';
import { Resources, SseParser, waitFor, type SseEvent } from '../../helpers';
import { POST_HEADERS, rawSession, startTunnelled } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

/** An SSE request made with node:http, so the test can cut its connection at any moment. */
function openSse(
  url: string,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
): { events: SseEvent[]; status: Promise<number>; ended: Promise<void>; cut(): void } {
  const events: SseEvent[] = [];
  const parser = new SseParser();
  let onStatus!: (s: number) => void;
  let onEnd!: () => void;
  const status = new Promise<number>((r) => (onStatus = r));
  const ended = new Promise<void>((r) => (onEnd = r));
  const req = http.request(url, { method: init.method, headers: init.headers, agent: false }, (r) => {
    onStatus(r.statusCode ?? 0);
    r.setEncoding('utf8');
    r.on('data', (chunk: string) => {
      for (const item of parser.push(chunk)) if (item.type === 'event') events.push(item);
    });
    r.once('close', onEnd);
  });
  req.once('error', () => {
    onStatus(0);
    onEnd();
  });
  req.end(init.body);
  return { events, status, ended, cut: () => req.destroy() };
}

describe('passthrough: disconnects', () => {
  it('#9 a client that closes its connection mid-SSE-response makes the upstream see the request closed', async () => {
    const t = await startTunnelled(res);
    const { headers } = await rawSession(t.mcpUrl, t.auth);
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 'slow-1',
      method: 'tools/call',
      params: { name: 'progress', arguments: { steps: 200, intervalMs: 20 }, _meta: { progressToken: 'p-1' } },
    });
    const sse = openSse(t.mcpUrl.href, {
      method: 'POST',
      headers: { ...POST_HEADERS, ...headers, 'content-length': String(Buffer.byteLength(body)) },
      body,
    });
    expect(await sse.status).toBe(200);
    await waitFor(() => sse.events.length >= 3);
    const post = t.upstream.state.requestsTo('/mcp', 'POST').at(-1)!;
    expect(post.closedEarly).toBe(false);

    const cutAt = Date.now();
    sse.cut();
    await sse.ended;
    await waitFor(() => t.upstream.state.closedRequests.includes(post), { timeoutMs: 2000, message: 'the upstream to see the POST closed' });
    expect(post.closedEarly).toBe(true);
    expect(post.endedAt! - cutAt).toBeLessThan(2000);
    // The gateway recorded the client going away.
    const rec = await waitFor(() => t.h.gatewayAudit.find((l) => l.jsonrpcId === 'slow-1'));
    expect(rec).toMatchObject({ outcome: 'aborted', errorCode: 'TUNNEL_CLIENT_GONE' });
  });

  it('#9 a client gone before any response byte makes the upstream see the request closed', async () => {
    const t = await startTunnelled(res);
    const pending = openSse(t.viaTunnel('/raw/hang'), { method: 'GET', headers: { ...t.auth, accept: 'text/event-stream' } });
    const hang = await waitFor(() => t.upstream.state.requestsTo('/raw/hang')[0]);
    expect(hang.status).toBeUndefined();
    pending.cut();
    await pending.ended;
    await waitFor(() => hang.closedEarly, { timeoutMs: 2000, message: 'the upstream to see the request closed' });
  });

  it('#9 a dropped GET stream resumes through the tunnel with Last-Event-ID (raw client)', async () => {
    const t = await startTunnelled(res, { upstream: { eventStore: true } });
    const { headers } = await rawSession(t.mcpUrl, t.auth);
    const getHeaders = { ...headers, accept: 'text/event-stream' };
    const first = openSse(t.mcpUrl.href, { method: 'GET', headers: getHeaders });
    expect(await first.status).toBe(200);
    await waitFor(() => t.upstream.sessions.size === 1 && t.upstream.state.requestsTo('/mcp', 'GET').some((r) => r.status === 200));
    await t.upstream.broadcastLog('one');
    await waitFor(() => first.events.some((e) => e.data.includes('"one"')));
    const lastId = first.events.at(-1)!.id!;
    expect(lastId).toBeDefined();

    // The client drops its stream; the upstream sees it go, and keeps sending into its event store.
    const firstGet = t.upstream.state.requestsTo('/mcp', 'GET')[0]!;
    first.cut();
    await waitFor(() => firstGet.closedEarly, { timeoutMs: 2000 });
    await t.upstream.broadcastLog('two');
    await t.upstream.broadcastLog('three');

    const resumed = openSse(t.mcpUrl.href, { method: 'GET', headers: { ...getHeaders, 'last-event-id': lastId } });
    expect(await resumed.status).toBe(200);
    await waitFor(() => resumed.events.length >= 2);
    const resumeGet = t.upstream.state.requestsTo('/mcp', 'GET')[1]!;
    expect(resumeGet.headers['last-event-id']).toBe(lastId);
    expect(resumeGet.headers['mcp-session-id']).toBe(headers['mcp-session-id']);
    // Missed events replayed in order with their ids, then live ones on the same stream.
    await t.upstream.broadcastLog('four');
    await waitFor(() => resumed.events.length >= 3);
    const data = resumed.events.map((e) => (JSON.parse(e.data) as { params: { data: string } }).params.data);
    expect(data).toEqual(['two', 'three', 'four']);
    const ids = resumed.events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(ids[0]).toBeGreaterThan(Number(lastId));
    resumed.cut();
    await resumed.ended;
  });
});
