/**
 * Issue 8 defect 12 (one client starves the rest): GET SSE streams were outside `maxConcurrent` and
 * each held one of the proxy's request connections to the upstream origin, so one identity holding
 * `upstream.connectionsPerOrigin` idle GET streams made every other request to that origin wait.
 * Against the SDK upstream through gateway + tunnel + proxy.
 */
import { randomBytes } from 'node:crypto';
import { Resources, waitFor } from '../../helpers';
import { POST_HEADERS, rawSession, startTunnelled, type Tunnelled } from '../passthrough/helpers';

const res = new Resources();
afterEach(() => res.closeAll());

const LIST_TOOLS = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });

/** Opens the session's standalone GET stream and leaves it open (idle); resolves with its status. */
async function openStream(t: Tunnelled, headers: Record<string, string>): Promise<{ status: number; retryAfter: string | null; body: string | null }> {
  const ac = new AbortController();
  res.defer(() => ac.abort());
  const r = await fetch(t.mcpUrl, { method: 'GET', headers: { accept: 'text/event-stream', ...headers }, signal: ac.signal });
  if (r.status === 200) return { status: 200, retryAfter: null, body: null };
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() };
}

describe('fair use of upstream connections (issue 8 defect 12)', () => {
  it('regression: 5 idle GET streams of one identity no longer starve a POST when the request pool has 4 connections', async () => {
    const t = await startTunnelled(res, { harness: { proxy: (c) => (c.upstream.connectionsPerOrigin = 4) } });
    const sessions: Array<{ sessionId: string; headers: Record<string, string> }> = [];
    for (let i = 0; i < 6; i++) sessions.push(await rawSession(t.mcpUrl, t.auth));
    // Five idle streams at once: one more than the proxy's request pool holds.
    const streams = Promise.all(sessions.slice(0, 5).map((s) => openStream(t, s.headers)));
    await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').length >= 4);
    // Before: the streams took every pooled connection and this POST (and the fifth stream) queued
    // behind them in the proxy until one closed: the bound turns that hang into a failure.
    const r = await fetch(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...sessions[5]!.headers }, body: LIST_TOOLS, signal: AbortSignal.timeout(5_000) });
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('"tools"');
    expect((await streams).map((x) => x.status)).toEqual([200, 200, 200, 200, 200]);
  });

  it('open GET streams count against a per-identity limit (limits.maxOpenStreamsPerClient): 429 with Retry-After beyond it, other identities unaffected, the slot frees on close', async () => {
    const bobKey = randomBytes(24).toString('base64url');
    const t = await startTunnelled(res, {
      harness: {
        gateway: (c) => {
          c.limits.maxOpenStreamsPerClient = 3;
          c.clients.push({ name: 'bob', apiKey: bobKey, servers: ['*'] });
        },
      },
    });
    const alice: Array<{ sessionId: string; headers: Record<string, string> }> = [];
    for (let i = 0; i < 4; i++) alice.push(await rawSession(t.mcpUrl, t.auth));
    const aborts: AbortController[] = [];
    for (const s of alice.slice(0, 3)) {
      const ac = new AbortController();
      aborts.push(ac);
      res.defer(() => ac.abort());
      const r = await fetch(t.mcpUrl, { method: 'GET', headers: { accept: 'text/event-stream', ...s.headers }, signal: ac.signal });
      expect(r.status).toBe(200);
    }
    const refused = await openStream(t, alice[3]!.headers);
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('5');
    expect((JSON.parse(refused.body!) as { error: { data: { code: string } } }).error.data.code).toBe('TUNNEL_TOO_MANY_STREAMS');
    await waitFor(() => t.h.gatewayAudit.find((l) => l.errorCode === 'TUNNEL_TOO_MANY_STREAMS' && l.status === 429));
    // Requests are not streams: alice's POSTs still work; bob has his own allowance.
    const post = await fetch(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...alice[3]!.headers }, body: LIST_TOOLS });
    expect(post.status).toBe(200);
    await post.text();
    const bob = await rawSession(t.mcpUrl, { authorization: `Bearer ${bobKey}` });
    expect((await openStream(t, bob.headers)).status).toBe(200);
    // Closing one of alice's streams gives its slot back.
    aborts[0]!.abort();
    await waitFor(async () => (await openStream(t, alice[3]!.headers)).status === 200);
  });
});
