/**
 * Tool rules: allow/deny on tools/call (a denied call never reaches the tunnel) and tools/list
 * filtering over JSON and SSE responses, with the official SDK client.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { startLegacySseUpstream } from '../../fixtures/mcp-upstream';
import { Resources, connectClient, waitFor } from '../../helpers';
import { startHarness } from '../../helpers/tunnel-harness';
import { POST_HEADERS, fetchAll, rawSession, textAt, toolCallBody } from '../passthrough/helpers';
import { gatewayRecords, rule, startPolicyTunnel } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

const toolsRule = rule({ name: 'alice-tools', tools: { allow: ['echo', 'add*', 'progress', 'wait'], deny: ['wait'] } });

describe('policy: tool rules on tools/call', () => {
  it('forwards an allowed call and answers a denied one itself: JSON-RPC error, upstream untouched, audited', async () => {
    const t = await startPolicyTunnel(res, [toolsRule]);
    const c = await t.connect();
    expect(textAt((await c.client.callTool({ name: 'echo', arguments: { text: 'hi' } })) as never, 0)).toBe('hi');

    const before = t.upstream.state.requestCount;
    const denied = await c.client.callTool({ name: 'wait', arguments: { ms: 1 } }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(McpError);
    expect((denied as McpError).message).toMatch(/tool "wait" is not allowed .*alice-tools: deny "wait"/);
    const notListed = await c.client.callTool({ name: 'big', arguments: { bytes: 1 } }).catch((e: unknown) => e);
    expect((notListed as McpError).message).toMatch(/alice-tools: not in allow list/);
    expect(t.upstream.state.requestCount).toBe(before);
    expect(t.upstream.state.toolCalls.map((x) => x.tool)).toEqual(['echo']);

    await waitFor(() => gatewayRecords(t).filter((r) => r.tool === 'wait' || r.tool === 'big').length === 2 || undefined);
    const rec = gatewayRecords(t).find((r) => r.tool === 'wait');
    expect(rec).toMatchObject({ status: 200, errorCode: 'TUNNEL_TOOL_DENIED', conn: null, policy: { decision: 'deny', rule: 'alice-tools: deny "wait"' } });
    expect(gatewayRecords(t).find((r) => r.tool === 'echo')).toMatchObject({ status: 200, policy: { decision: 'allow', rule: 'alice-tools' } });
  });

  it('answers a raw denied call with the request id, and applies no rule to another client', async () => {
    const t = await startPolicyTunnel(res, [toolsRule]);
    const s = await rawSession(t.mcpUrl, t.auth);
    const r = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...s.headers }, body: toolCallBody('req-7', 'wait', { ms: 1 }) });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toMatchObject({ jsonrpc: '2.0', id: 'req-7', error: { code: -32000, data: { code: 'TUNNEL_TOOL_DENIED', server: 'notes', rule: 'alice-tools: deny "wait"' } } });

    const b = await t.connect({ headers: t.bobAuth });
    expect(textAt((await b.client.callTool({ name: 'wait', arguments: { ms: 1 } })) as never, 0)).toBe('waited 1');
  });

  it('denies a whole batch when one call in it is denied', async () => {
    const t = await startPolicyTunnel(res, [toolsRule]);
    const s = await rawSession(t.mcpUrl, t.auth, '2025-03-26');
    const before = t.upstream.state.requestCount;
    const batch = `[${toolCallBody(1, 'echo', { text: 'a' })},${toolCallBody(2, 'wait', { ms: 1 })}]`;
    const r = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...s.headers }, body: batch });
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as Array<{ id: number; error: { data: { code: string } } }>;
    expect(body.map((m) => [m.id, m.error.data.code])).toEqual([
      [1, 'TUNNEL_TOOL_DENIED'],
      [2, 'TUNNEL_TOOL_DENIED'],
    ]);
    expect(t.upstream.state.requestCount).toBe(before);
  });

  it('refuses a body larger than policy.inspectLimitBytes with 413 instead of forwarding it unchecked', async () => {
    const t = await startPolicyTunnel(res, [toolsRule], { gateway: (c) => void (c.policy!.inspectLimitBytes = 1024) });
    const s = await rawSession(t.mcpUrl, t.auth);
    const before = t.upstream.state.requestCount;
    const r = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...s.headers }, body: toolCallBody(3, 'echo', { text: 'x'.repeat(4096) }) });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ error: { data: { code: 'TUNNEL_POLICY_BODY_TOO_LARGE' } } });
    expect(t.upstream.state.requestCount).toBe(before);
  });
});

describe('policy: tools/list filtering', () => {
  it.each([
    ['SSE', false],
    ['JSON', true],
  ])('shows only the allowed tools when the result arrives as %s', async (_kind, enableJsonResponse) => {
    const t = await startPolicyTunnel(res, [toolsRule], { upstream: { enableJsonResponse } });
    const c = await t.connect();
    const names = (await c.client.listTools()).tools.map((x) => x.name).sort();
    expect(names).toEqual(['add', 'echo', 'progress']);
    // Another client sees them all.
    const b = await t.connect({ headers: t.bobAuth });
    expect((await b.client.listTools()).tools.length).toBeGreaterThan(5);
    await waitFor(() => gatewayRecords(t).some((r) => r.mcpMethod === 'tools/list' && r.client === 'alice') || undefined);
    expect(gatewayRecords(t).find((r) => r.mcpMethod === 'tools/list' && r.client === 'alice')).toMatchObject({ status: 200, policy: { decision: 'filtered', rule: 'alice-tools' } });
  });

  it('keeps content-length right for a filtered JSON response', async () => {
    const t = await startPolicyTunnel(res, [toolsRule], { upstream: { enableJsonResponse: true } });
    const s = await rawSession(t.mcpUrl, t.auth);
    const r = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...s.headers }, body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }) });
    expect(r.status).toBe(200);
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
    expect((JSON.parse(r.body) as { result: { tools: Array<{ name: string }> } }).result.tools.map((x) => x.name).sort()).toEqual(['add', 'echo', 'progress']);
  });

  it('still streams progress notifications one by one under a tool rule', async () => {
    const t = await startPolicyTunnel(res, [toolsRule]);
    const c = await t.connect();
    const received: number[] = [];
    const result = await c.client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 150 } }, undefined, {
      onprogress: () => void received.push(Date.now()),
    });
    expect(textAt(result as never, 0)).toBe('done 3');
    expect(received).toHaveLength(3);
    const sends = t.upstream.state.progressSends;
    // Each notification reached the client before the upstream sent the next one.
    for (let i = 0; i + 1 < received.length; i++) expect(received[i]!).toBeLessThanOrEqual(sends[i + 1]!.at);
  });
});

describe('policy: legacy HTTP+SSE (2024-11-05)', () => {
  it('filters tools/list on the GET stream and fails a denied call with 403 (the POST expects 202)', async () => {
    const upstream = res.add(await startLegacySseUpstream());
    const bobKey = 'bob-key-0123456789abcdefghijklmnop';
    const h = res.add(
      await startHarness({
        servers: [{ name: 'legacy', url: upstream.url }],
        gateway: (c) => {
          c.clients.push({ ...c.clients[0]!, name: 'bob', apiKey: bobKey });
          c.policy = { rules: [toolsRule], inspectLimitBytes: 65536 };
        },
      }),
    );
    const c = await connectClient(h.mcpUrl('legacy'), { transport: 'sse', headers: { Authorization: `Bearer ${h.apiKey}` } });
    res.add(c);
    expect((await c.client.listTools()).tools.map((x) => x.name).sort()).toEqual(['add', 'echo', 'progress']);
    expect(textAt((await c.client.callTool({ name: 'echo', arguments: { text: 'old' } })) as never, 0)).toBe('old');
    const calls = upstream.state.toolCalls.length;
    const denied = await c.client.callTool({ name: 'wait', arguments: { ms: 1 } }).catch((e: unknown) => e);
    expect(String(denied)).toMatch(/403/);
    expect(upstream.state.toolCalls.length).toBe(calls);

    const b = await connectClient(h.mcpUrl('legacy'), { transport: 'sse', headers: { Authorization: `Bearer ${bobKey}` } });
    res.add(b);
    expect((await b.client.listTools()).tools.length).toBeGreaterThan(5);
  });
});
