/**
 * Rate and concurrency limits (429 with Retry-After), session binding (another client's session id
 * is a 404 that never reaches the tunnel), the 2026-07-28 era header checks (400, -32020), and a
 * policy reload that leaves an in-flight request alone.
 *
 * The era tests use raw HTTP requests: the v2 SDK packages (`@modelcontextprotocol/client`,
 * `@modelcontextprotocol/server`) are not installed yet.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { Resources, waitFor } from '../../helpers';
import { INITIALIZED_BODY, POST_HEADERS, fetchAll, rawSession, textAt, toolCallBody } from '../passthrough/helpers';
import { gatewayRecords, rule, startPolicyTunnel } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

describe('policy: rate limit', () => {
  it('answers 429 with Retry-After once the burst is spent, without reaching the tunnel', async () => {
    const t = await startPolicyTunnel(res, [rule({ name: 'alice-rate', rateLimit: { ratePerSec: 0.2, burst: 3 } })]);
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof fetchAll>> | null = null;
    for (let i = 0; i < 5; i++) {
      last = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...t.auth }, body: INITIALIZED_BODY });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 3).every((s) => s !== 429)).toBe(true);
    expect(statuses.slice(3)).toEqual([429, 429]);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(last!.headers['retry-after'])).toBeLessThanOrEqual(5);
    expect(JSON.parse(last!.body)).toMatchObject({ error: { data: { code: 'TUNNEL_RATE_LIMITED' } } });
    expect(t.upstream.state.requestCount).toBe(3);
    // Per client: bob is not limited by alice's bucket.
    const bob = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...t.bobAuth }, body: INITIALIZED_BODY });
    expect(bob.status).not.toBe(429);
    await waitFor(() => gatewayRecords(t).some((r) => r.status === 429) || undefined);
    expect(gatewayRecords(t).find((r) => r.status === 429)).toMatchObject({ errorCode: 'TUNNEL_RATE_LIMITED', policy: { decision: 'deny', rule: 'alice-rate' } });
  });
});

describe('policy: concurrency limit', () => {
  it('answers 429 while the client has maxConcurrent POSTs in flight, and admits again when one ends', async () => {
    const t = await startPolicyTunnel(res, [rule({ name: 'alice-conc', maxConcurrent: 1 })]);
    const s = await rawSession(t.mcpUrl, t.auth);
    const abort = new AbortController();
    const slow = fetch(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...s.headers }, body: toolCallBody(1, 'wait', { ms: 60_000 }), signal: abort.signal })
      .then((r) => r.text())
      .catch(() => 'aborted');
    await waitFor(() => t.upstream.state.toolCalls.some((c) => c.tool === 'wait' && c.outcome === 'running') || undefined);
    const second = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...s.headers }, body: toolCallBody(2, 'echo', { text: 'x' }) });
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    expect(JSON.parse(second.body)).toMatchObject({ error: { data: { code: 'TUNNEL_CONCURRENCY_LIMITED' } } });
    expect(t.upstream.state.toolCalls.some((c) => c.tool === 'echo')).toBe(false);
    // The standalone GET stream does not count.
    const getAbort = new AbortController();
    const get = await fetch(t.mcpUrl, { headers: { accept: 'text/event-stream', ...s.headers }, signal: getAbort.signal });
    expect(get.status).toBe(200);
    getAbort.abort();

    abort.abort();
    await slow;
    await waitFor(async () => {
      const r = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...s.headers }, body: toolCallBody(3, 'echo', { text: 'y' }) });
      return r.status === 200 || undefined;
    });
  });
});

describe('policy: session binding', () => {
  it('answers 404 to a client presenting a session another client created; the upstream never sees it', async () => {
    const t = await startPolicyTunnel(res, []);
    const alice = await rawSession(t.mcpUrl, t.auth);
    const before = t.upstream.state.requestCount;
    const hijack = await fetchAll(t.mcpUrl, {
      method: 'POST',
      headers: { ...POST_HEADERS, ...t.bobAuth, 'mcp-session-id': alice.sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: toolCallBody(1, 'echo', { text: 'stolen' }),
    });
    expect(hijack.status).toBe(404);
    expect(JSON.parse(hijack.body)).toMatchObject({ error: { data: { code: 'TUNNEL_SESSION_NOT_FOUND' } } });
    const del = await fetchAll(t.mcpUrl, { method: 'DELETE', headers: { ...t.bobAuth, 'mcp-session-id': alice.sessionId } });
    expect(del.status).toBe(404);
    expect(t.upstream.state.requestCount).toBe(before);
    expect(t.upstream.state.activeSessions.has(alice.sessionId)).toBe(true);

    // The owner keeps using it, with the SDK too.
    const c = await t.connect({ sessionId: alice.sessionId, protocolVersion: '2025-11-25' });
    expect(textAt((await c.client.callTool({ name: 'echo', arguments: { text: 'mine' } })) as never, 0)).toBe('mine');
    await waitFor(() => gatewayRecords(t).some((r) => r.status === 404) || undefined);
    expect(gatewayRecords(t).find((r) => r.status === 404)).toMatchObject({ client: 'bob', conn: null, policy: { decision: 'deny', rule: 'session-binding' } });
  });

  it('binds a session created with the SDK client, and forgets it after DELETE', async () => {
    const t = await startPolicyTunnel(res, []);
    const c = await t.connect();
    const sid = c.transport.sessionId!;
    const hijack = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...t.bobAuth, 'mcp-session-id': sid }, body: toolCallBody(1, 'echo', { text: 'x' }) });
    expect(hijack.status).toBe(404);
    await c.transport.terminateSession();
    expect(t.upstream.state.deletedSessions.has(sid)).toBe(true);
  });
});

describe('policy: protocol-era headers (2026-07-28)', () => {
  const era = (method: string, name?: string): Record<string, string> => ({
    ...POST_HEADERS,
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
    ...(name !== undefined ? { 'mcp-name': name } : {}),
  });
  const toolsRule = rule({ name: 'alice-tools', tools: { allow: ['echo'], deny: [] } });

  it('rejects an Mcp-Name that differs from the body with 400 and -32020, before the tunnel', async () => {
    const t = await startPolicyTunnel(res, [toolsRule]);
    const before = t.upstream.state.requestCount;
    const r = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...t.auth, ...era('tools/call', 'echo') }, body: toolCallBody(5, 'big', { bytes: 1 }) });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ id: 5, error: { code: -32020, message: expect.stringMatching(/Mcp-Name/) as unknown, data: { code: 'TUNNEL_HEADER_MISMATCH' } } });
    expect(t.upstream.state.requestCount).toBe(before);
    await waitFor(() => gatewayRecords(t).some((x) => x.status === 400) || undefined);
    expect(gatewayRecords(t).find((x) => x.status === 400)).toMatchObject({ tool: 'big', policy: { decision: 'deny', rule: 'header-check' } });
  });

  it.each([
    ['an Mcp-Method that differs', era('tools/list', 'echo')],
    ['a missing Mcp-Method', { ...POST_HEADERS, 'mcp-protocol-version': '2026-07-28', 'mcp-name': 'echo' }],
    ['a missing Mcp-Name', era('tools/call')],
  ])('rejects %s', async (_what, headers) => {
    const t = await startPolicyTunnel(res, [toolsRule]);
    const r = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...t.auth, ...headers }, body: toolCallBody(6, 'echo', { text: 'x' }) });
    expect(r.status).toBe(400);
    expect((JSON.parse(r.body) as { error: { code: number } }).error.code).toBe(-32020);
    expect(t.upstream.state.requestCount).toBe(0);
  });

  it('forwards matching headers (plain and Base64-encoded Mcp-Name) unchanged', async () => {
    const t = await startPolicyTunnel(res, [toolsRule]);
    for (const name of ['echo', `=?base64?${Buffer.from('echo').toString('base64')}?=`]) {
      const before = t.upstream.state.requestCount;
      await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...t.auth, ...era('tools/call', name) }, body: toolCallBody(7, 'echo', { text: 'x' }) });
      expect(t.upstream.state.requestCount).toBe(before + 1);
      expect(t.upstream.state.requests.at(-1)!.headers['mcp-name']).toBe(name);
    }
  });

  it('does not check 2025-era requests (their headers are not mirrored)', async () => {
    const t = await startPolicyTunnel(res, [toolsRule]);
    const s = await rawSession(t.mcpUrl, t.auth);
    const r = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...s.headers, 'mcp-method': 'nonsense' }, body: toolCallBody(8, 'echo', { text: 'ok' }) });
    expect(r.status).toBe(200);
  });
});

describe('policy: reload', () => {
  it('applies new rules to new requests without dropping one in flight', async () => {
    const t = await startPolicyTunnel(res, [rule({ name: 'v1', tools: { allow: ['*'], deny: [] } })]);
    const c = await t.connect();
    const call = c.client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 200 } }, undefined, { onprogress: () => undefined });
    await waitFor(() => t.upstream.state.toolCalls.some((x) => x.tool === 'progress') || undefined);
    t.reloadRules([rule({ name: 'v2', tools: { allow: null, deny: ['progress'] } })]);
    expect(textAt((await call) as never, 0)).toBe('done 3');
    const denied = await c.client.callTool({ name: 'progress', arguments: { steps: 1, intervalMs: 0 } }).catch((e: unknown) => e);
    expect((denied as McpError).message).toMatch(/v2: deny "progress"/);
    expect(textAt((await c.client.callTool({ name: 'echo', arguments: { text: 'still' } })) as never, 0)).toBe('still');
  });
});
