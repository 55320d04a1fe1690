/**
 * Issue 8 defects 2 and 3, against an upstream built on the SDK's express app (test/fixtures/
 * express-upstream.ts) behind a real gateway → tunnel → proxy:
 * - routing is confined to each server's configured URL (no path escape to another server or a
 *   non-MCP path on the same origin; the configured query always applies);
 * - legacy HTTP+SSE sessions are keyed on what the upstream routes on (the announced endpoint's
 *   `sessionId`), so no identity can post into another's legacy session, whatever it adds.
 */
import { randomBytes } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startExpressUpstream, type ExpressUpstream } from '../../fixtures/express-upstream';
import { Resources, connectClient, waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { rawRequest, type RawResponse } from '../passthrough/helpers';

const JSON_HEADERS: Array<[string, string]> = [
  ['Content-Type', 'application/json'],
  ['Accept', 'application/json, text/event-stream'],
];

function echoCall(text: string, id = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } });
}

function initialize(): string {
  return JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
}

/** The gateway's `data.code`, or (an upstream's answer) the body's first 40 characters. */
function codeOf(r: RawResponse): unknown {
  const text = r.body.toString('utf8');
  try {
    return (JSON.parse(text) as { error?: { data?: { code?: string } } }).error?.data?.code;
  } catch {
    return text.slice(0, 40);
  }
}

describe('routing confined to the server endpoint, sessions keyed on what the upstream routes on (issue 8)', () => {
  const res = new Resources();
  let up: ExpressUpstream;
  let h: Harness;
  let bobKey: string;
  const as = (key: string, extra: Array<[string, string]> = []): Array<[string, string]> => [['Authorization', `Bearer ${key}`], ...JSON_HEADERS, ...extra];
  const gw = (path: string): string => `${h.gateway.url}${path}`;

  beforeEach(async () => {
    up = res.add(await startExpressUpstream());
    bobKey = randomBytes(24).toString('base64url');
    h = res.add(
      await startHarness({
        servers: [
          { name: 'notes', url: `${up.origin}/mcp` },
          { name: 'admin', url: `${up.origin}/admin-mcp` },
          { name: 'q', url: `${up.origin}/echo?tenant=a` },
          { name: 'legacy', url: `${up.origin}/sse` },
        ],
        gateway: (c) => {
          c.clients[0]!.servers = ['notes', 'q', 'legacy'];
          c.clients.push({ ...c.clients[0]!, name: 'bob', apiKey: bobKey });
        },
      }),
    );
  });
  afterEach(() => res.closeAll());

  it('path escape: a client granted notes reaches neither another server on the same origin nor a non-MCP path (404)', async () => {
    // The granted server works, and runs the call at its own endpoint.
    const ok = await rawRequest(gw('/mcp/notes'), { method: 'POST', headers: as(h.apiKey), body: echoCall('notes call') });
    expect(ok.status).toBe(200);
    expect(up.executed).toEqual([{ endpoint: '/mcp', text: 'notes call', sessionId: undefined }]);

    for (const path of ['/mcp/notes/admin-mcp', '/mcp/notes/../admin-mcp', '/mcp/notes/%2e%2e/admin-mcp', '/mcp/notes/mcp']) {
      const r = await rawRequest(gw(path), { method: 'POST', headers: as(h.apiKey), body: echoCall(`escape via ${path}`) });
      expect([path, r.status, codeOf(r)]).toEqual([path, 404, 'TUNNEL_NOT_FOUND']);
    }
    const secret = await rawRequest(gw('/mcp/notes/secret'), { headers: as(h.apiKey) });
    expect(secret.status).toBe(404);
    expect(secret.body.toString()).not.toContain('internal only');
    // The admin server itself is not granted to this client.
    expect((await rawRequest(gw('/mcp/admin'), { method: 'POST', headers: as(h.apiKey), body: initialize() })).status).toBe(403);

    expect(up.executed.map((e) => e.endpoint)).toEqual(['/mcp']);
    expect(up.requests.map((r) => r.url)).toEqual(['/mcp']);
  });

  it('the configured query always applies: a client parameter is appended, a conflicting one is refused (400)', async () => {
    const r = await rawRequest(gw('/mcp/q?x=1&y=%20'), { headers: as(h.apiKey) });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body.toString())).toEqual({ url: '/echo?tenant=a&x=1&y=%20', query: { tenant: 'a', x: '1', y: ' ' } });

    for (const q of ['tenant=b', 'x=1&tenant=b', 'tenant[0]=b', 'tenant[]=b', '%74enant=b', 'tenant%5Bx%5D=b']) {
      const bad = await rawRequest(gw(`/mcp/q?${q}`), { headers: as(h.apiKey) });
      expect([q, bad.status, codeOf(bad)]).toEqual([q, 400, 'TUNNEL_QUERY_CONFLICT']);
    }
    expect(up.requests.filter((x) => x.url.startsWith('/echo'))).toHaveLength(1);
  });

  it("legacy: identity B cannot post into A's session with an added Mcp-Session-Id, sessionId[0]=, duplicates, extra or encoded params", async () => {
    const a = res.add(await connectClient(gw('/mcp/legacy'), { transport: 'sse', headers: { Authorization: `Bearer ${h.apiKey}` } }));
    const [sid] = up.legacySessions();
    expect(sid).toMatch(/^[0-9a-f-]{36}$/);

    const attempts: Array<[string, Array<[string, string]>]> = [
      [`/mcp/legacy/messages?sessionId=${sid}`, []],
      [`/mcp/legacy/messages?sessionId=${sid}`, [['Mcp-Session-Id', 'bobs-own-session']]],
      [`/mcp/legacy/messages?sessionId[0]=${sid}`, []],
      [`/mcp/legacy/messages?sessionId[]=${sid}`, [['Mcp-Session-Id', 'x']]],
      [`/mcp/legacy/messages?sessionId%5B0%5D=${sid}`, []],
      [`/mcp/legacy/messages?sessionId=${sid}&sessionId=${sid}`, []],
      [`/mcp/legacy/messages?sessionId=mine&sessionId=${sid}`, []],
      [`/mcp/legacy/messages?sessionId=${sid}&x=1`, []],
      [`/mcp/legacy/messages?%73essionId=${sid}`, []],
      [`/mcp/legacy?sessionId=${sid}`, []],
      [`/mcp/legacy/?sessionId=${sid}`, []],
    ];
    for (const [i, [path, extra]] of attempts.entries()) {
      const r = await rawRequest(gw(path), { method: 'POST', headers: as(bobKey, extra), body: echoCall(`from bob ${i}`, 100 + i) });
      expect([path, r.status, codeOf(r)]).toEqual([path, 404, 'TUNNEL_SESSION_NOT_FOUND']);
    }

    // The legacy SDK client still works end to end, and only its own calls ran, in its session.
    const echo = (await a.client.callTool({ name: 'echo', arguments: { text: 'from alice' } })) as CallToolResult;
    expect(echo.content).toEqual([{ type: 'text', text: 'from alice' }]);
    expect(up.executed).toEqual([{ endpoint: '/messages', text: 'from alice', sessionId: sid }]);
    const posts = h.gatewayAudit.lines.filter((l) => l.side === 'gateway' && l.client === 'alice' && l.httpMethod === 'POST');
    expect(posts.length).toBeGreaterThanOrEqual(3); // initialize, initialized, tools/call
    for (const p of posts) expect(p).toMatchObject({ path: '/mcp/legacy/messages', sessionId: sid, status: 202 });
    const denied = h.gatewayAudit.lines.filter((l) => l.side === 'gateway' && l.client === 'bob');
    expect(denied).toHaveLength(attempts.length);
  });

  it('more than one Mcp-Session-Id header line is refused (400)', async () => {
    const r = await rawRequest(gw('/mcp/notes'), {
      method: 'POST',
      headers: as(h.apiKey, [
        ['Mcp-Session-Id', 'one'],
        ['Mcp-Session-Id', 'two'],
      ]),
      body: echoCall('dup'),
    });
    expect([r.status, codeOf(r)]).toEqual([400, 'TUNNEL_DUPLICATE_SESSION_ID']);
    expect(up.executed).toEqual([]);
  });

  it('legacy: the announced endpoint is forgotten when its GET stream closes', async () => {
    const a = await connectClient(gw('/mcp/legacy'), { transport: 'sse', headers: { Authorization: `Bearer ${h.apiKey}` } });
    const [sid] = up.legacySessions();
    const path = `/mcp/legacy/messages?sessionId=${sid}`;
    // A GET to the message endpoint is no route either: only the announced POST is.
    expect((await rawRequest(gw(path), { headers: as(h.apiKey) })).status).toBe(404);

    await a.close();
    await waitFor(() => up.legacySessions().length === 0, { message: 'the upstream legacy session to end' });
    const r = await rawRequest(gw(path), { method: 'POST', headers: as(h.apiKey), body: echoCall('after close') });
    expect([r.status, codeOf(r)]).toEqual([404, 'TUNNEL_SESSION_NOT_FOUND']);
    expect(up.requests.filter((x) => x.method === 'POST' && x.url === `/messages?sessionId=${sid}`)).toHaveLength(2); // initialize, initialized
    expect(up.executed).toEqual([]);
  });
});
