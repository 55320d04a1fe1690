import { createHash } from 'node:crypto';
/**
 * Audit records through the real gateway → tunnel → proxy path: one gateway record per request
 * (failures included) with the MCP method, JSON-RPC id and tool, and a proxy record with the same
 * `rid` for every request that reached the proxy. And no credential in any log or audit line.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { Resources, waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { startProxy, type ProxyStatus } from '../../../src/proxy';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BODY_LIMIT = 256 * 1024;
const ACCEPT = 'application/json, text/event-stream';

type Line = Record<string, unknown>;

interface Sent {
  status: number;
  headers: Headers;
  /** Response body bytes as the client received them. */
  bytes: number;
  text: string;
}

async function send(url: URL | string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Sent> {
  const r = await fetch(url, { method: init.method ?? 'POST', headers: init.headers, body: init.body });
  const buf = Buffer.from(await r.arrayBuffer());
  return { status: r.status, headers: r.headers, bytes: buf.length, text: buf.toString('utf8') };
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('audit', () => {
  const res = new Resources();
  let upstream: StreamableUpstreamHandle;
  let h: Harness;
  let bobKey: string;

  beforeEach(async () => {
    upstream = res.add(await startStreamableUpstream());
    const dead = await closedPort();
    bobKey = randomBytes(24).toString('base64url');
    h = res.add(
      await startHarness({
        servers: [
          { name: 'notes', url: upstream.url },
          { name: 'other', url: upstream.url },
          { name: 'dead', url: `http://127.0.0.1:${dead}/mcp` },
        ],
        gateway: (c) => {
          c.clients.push({ name: 'bob', apiKey: bobKey, servers: ['other'] });
          c.limits.maxRequestBodyBytes = BODY_LIMIT;
        },
      }),
    );
  });
  afterEach(() => res.closeAll());

  const gatewayRecords = (): Line[] => h.gatewayAudit.lines.filter((l) => l.side === 'gateway');
  const proxyRecords = (): Line[] => h.proxyAudit.lines.filter((l) => l.side === 'proxy');

  /** Sends one request and returns the one new gateway record it produced. */
  async function audited(run: () => Promise<Sent>): Promise<{ sent: Sent; record: Line }> {
    const before = gatewayRecords().length;
    const sent = await run();
    await waitFor(() => gatewayRecords().length > before, { message: 'a gateway audit record' });
    const added = gatewayRecords().slice(before);
    expect(added).toHaveLength(1);
    return { sent, record: added[0]! };
  }

  const proxyRecordOf = (rid: unknown): Promise<Line> =>
    waitFor(() => proxyRecords().find((l) => l.rid === rid), { message: `the proxy record of ${String(rid)}` });

  it('writes one gateway record per request and a proxy record with the same rid', async () => {
    const startedAt = Date.now();
    const headers = { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json', accept: ACCEPT };
    const url = h.mcpUrl('notes');

    const initBody = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'audit-it', version: '1' } },
    });
    const init = await audited(() => send(url, { headers, body: initBody }));
    expect(init.sent.status).toBe(200);
    const sid = init.sent.headers.get('mcp-session-id')!;
    expect(sid).toMatch(UUID);
    const session = { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };

    const notifyBody = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const notify = await audited(() => send(url, { headers: session, body: notifyBody }));
    expect(notify.sent.status).toBe(202);

    const callBody = JSON.stringify({ jsonrpc: '2.0', id: 'call-7', method: 'tools/call', params: { name: 'echo', arguments: { text: 'audited' } } });
    const call = await audited(() => send(url, { headers: session, body: callBody }));
    expect(call.sent.status).toBe(200);
    expect(call.sent.text).toContain('audited');

    const del = await audited(() => send(url, { method: 'DELETE', headers: session }));
    expect(del.sent.status).toBe(200);

    const connId = h.gateway.registry.connections('corp')[0]!.id;
    const expected: Array<[typeof init, Partial<Line>, string]> = [
      [init, { httpMethod: 'POST', mcpMethod: 'initialize', jsonrpcId: 1, tool: null, sessionId: null }, initBody],
      [notify, { httpMethod: 'POST', mcpMethod: 'notifications/initialized', jsonrpcId: null, tool: null, sessionId: sid }, notifyBody],
      [call, { httpMethod: 'POST', mcpMethod: 'tools/call', jsonrpcId: 'call-7', tool: 'echo', sessionId: sid }, callBody],
      [del, { httpMethod: 'DELETE', mcpMethod: null, jsonrpcId: null, tool: null, sessionId: sid }, ''],
    ];
    const rids = new Set<unknown>();
    for (const [{ sent, record }, fields, body] of expected) {
      expect(record).toMatchObject({
        msg: 'audit',
        side: 'gateway',
        client: 'alice',
        server: 'notes',
        tunnel: 'corp',
        conn: connId,
        path: '/mcp/notes',
        status: sent.status,
        outcome: 'ok',
        errorCode: null,
        bytesIn: Buffer.byteLength(body),
        bytesOut: sent.bytes,
        // Digests of the bodies exactly as they crossed the gateway.
        requestSha256: body ? createHash('sha256').update(body).digest('hex') : null,
        responseSha256: createHash('sha256').update(sent.text).digest('hex'),
        ...fields,
      });
      expect(record.rid).toMatch(UUID);
      rids.add(record.rid);
      expect(record.time).toBeGreaterThanOrEqual(startedAt);
      expect(record.time).toBeLessThanOrEqual(Date.now());
      expect(record.durationMs).toEqual(expect.any(Number));
      expect(record.durationMs as number).toBeGreaterThanOrEqual(0);
      expect(record.durationMs as number).toBeLessThan(10_000);

      const proxy = await proxyRecordOf(record.rid);
      expect(proxy).toMatchObject({
        msg: 'audit',
        side: 'proxy',
        tunnel: 'corp',
        server: 'notes',
        upstream: upstream.url,
        httpMethod: record.httpMethod,
        status: sent.status,
        outcome: 'ok',
        errorCode: null,
        bytesIn: Buffer.byteLength(body),
        bytesOut: sent.bytes,
      });
      expect(proxy.durationMs).toEqual(expect.any(Number));
    }
    expect(rids.size).toBe(expected.length);
    expect(gatewayRecords()).toHaveLength(expected.length);
    expect(proxyRecords()).toHaveLength(expected.length);
  });

  it('writes records for failures too: 401, 403, 404, 413 at the gateway; 502 on both sides', async () => {
    const body = '{"jsonrpc":"2.0","id":3,"method":"tools/list"}';
    const json = { 'content-type': 'application/json', accept: ACCEPT };
    const cases: Array<{ name: string; run: () => Promise<Sent>; status: number; fields: Partial<Line> }> = [
      {
        name: 'no key',
        run: () => send(h.mcpUrl('notes'), { headers: json, body }),
        status: 401,
        fields: { client: null, server: 'notes', tunnel: null, conn: null, errorCode: 'TUNNEL_UNAUTHENTICATED' },
      },
      {
        name: 'other client',
        run: () => send(h.mcpUrl('notes'), { headers: { ...json, authorization: `Bearer ${bobKey}` }, body }),
        status: 403,
        fields: { client: 'bob', server: 'notes', tunnel: 'corp', conn: null, errorCode: 'TUNNEL_FORBIDDEN' },
      },
      {
        name: 'unknown server',
        run: () => send(`${h.gateway.url}/mcp/nope`, { headers: { ...json, authorization: `Bearer ${h.apiKey}` }, body }),
        status: 404,
        fields: { client: 'alice', server: 'nope', tunnel: null, conn: null, path: '/mcp/nope', errorCode: 'TUNNEL_UNKNOWN_SERVER' },
      },
      {
        name: 'too large',
        run: () => send(h.mcpUrl('notes'), { headers: { ...json, authorization: `Bearer ${h.apiKey}` }, body: Buffer.alloc(BODY_LIMIT + 1, 0x20) }),
        status: 413,
        fields: { client: 'alice', server: 'notes', tunnel: 'corp', errorCode: 'TUNNEL_BODY_TOO_LARGE' },
      },
      {
        name: 'upstream refused',
        run: () => send(h.mcpUrl('dead'), { headers: { ...json, authorization: `Bearer ${h.apiKey}` }, body }),
        status: 502,
        fields: { client: 'alice', server: 'dead', tunnel: 'corp', errorCode: 'TUNNEL_UPSTREAM_UNREACHABLE', mcpMethod: 'tools/list', jsonrpcId: 3 },
      },
    ];
    for (const c of cases) {
      const { sent, record } = await audited(c.run);
      expect({ name: c.name, status: sent.status }).toEqual({ name: c.name, status: c.status });
      const rid = (JSON.parse(sent.text) as { error: { data: { requestId: string } } }).error.data.requestId;
      expect(sent.headers.get('x-request-id')).toBe(rid);
      expect(record).toMatchObject({ side: 'gateway', rid, status: c.status, outcome: 'error', httpMethod: 'POST', bytesOut: 0, ...c.fields });
      expect(record.durationMs).toEqual(expect.any(Number));
    }

    // Only the 502 reached the proxy: its record carries the same rid and the dispatch code.
    const failed = gatewayRecords().find((l) => l.status === 502)!;
    const proxy = await proxyRecordOf(failed.rid);
    expect(proxy).toMatchObject({ side: 'proxy', server: 'dead', outcome: 'error', errorCode: 'TUNNEL_UPSTREAM_UNREACHABLE', status: 0 });
    expect(proxy.upstream).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    expect(gatewayRecords()).toHaveLength(cases.length);
    expect(proxyRecords()).toHaveLength(1);
  });

  it('no tunnel secret, API key or Authorization value appears in any log or audit line, at debug level', async () => {
    const wrongSecret = randomBytes(32).toString('base64url');
    const wrongKey = randomBytes(24).toString('base64url');
    const queryToken = randomBytes(16).toString('hex');
    expect(h.gatewayConfig.log.level).toBe('debug');

    // A proxy with a wrong secret tries to connect (and is refused), next to the working one.
    const bad = startProxy({ ...structuredClone(h.proxyConfig), secret: wrongSecret, name: 'bad-proxy' }, { logger: h.logs.logger, auditLogger: h.proxyAudit.logger });
    res.defer(() => bad.close(0));
    let badStatus: ProxyStatus | null = null;
    const sub = bad.status$.subscribe((s) => (badStatus = s));
    res.defer(() => sub.unsubscribe());
    await waitFor(() => badStatus?.state === 'waiting', { message: 'the wrong-secret proxy to be refused' });
    // A second replica with the right secret.
    await h.addProxy();

    // A whole SDK session, with a tool call.
    const client = new Client({ name: 'secrets-it', version: '1' });
    const transport = new StreamableHTTPClientTransport(h.mcpUrl('notes'), { requestInit: { headers: { Authorization: `Bearer ${h.apiKey}` } } });
    await client.connect(transport);
    await client.listTools();
    await client.callTool({ name: 'echo', arguments: { text: 'x' } });
    await transport.terminateSession();
    await client.close();

    // Failures of every kind, with credentials in the places clients put them.
    const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
    const json = { 'content-type': 'application/json', accept: ACCEPT };
    const statuses = await Promise.all([
      send(h.mcpUrl('notes'), { headers: { ...json, authorization: `Bearer ${wrongKey}` }, body }),
      send(h.mcpUrl('notes'), { headers: { ...json, authorization: wrongKey }, body }),
      send(h.mcpUrl('notes'), { headers: { ...json, authorization: `Bearer ${bobKey}` }, body }),
      send(`${h.gateway.url}/mcp/nope?token=${queryToken}`, { headers: { ...json, authorization: `Bearer ${h.apiKey}` }, body }),
      send(`${h.mcpUrl('dead').href}?api_key=${queryToken}`, { headers: { ...json, authorization: `Bearer ${h.apiKey}` }, body }),
      send(h.mcpUrl('notes'), { headers: { ...json, authorization: `Bearer ${h.apiKey}` }, body: Buffer.alloc(BODY_LIMIT + 1, 0x20) }),
      send(`${h.gateway.url}/nowhere?key=${queryToken}`, { headers: { ...json, authorization: `Bearer ${h.apiKey}` }, body }),
    ]).then((all) => all.map((s) => s.status));
    expect(statuses).toEqual([401, 401, 403, 404, 502, 413, 404]);
    await waitFor(() => gatewayRecords().filter((l) => l.outcome === 'error').length >= 6, { message: 'the failure records' });
    await waitFor(() => proxyRecords().some((l) => l.server === 'dead'), { message: 'the proxy record of the 502' });

    const lines = [...h.logs.raw, ...h.gatewayAudit.raw, ...h.proxyAudit.raw];
    // The capture really was at debug level and saw both components and the refused handshake.
    expect(h.logs.lines.some((l) => l.level === 20)).toBe(true);
    expect(h.logs.lines.some((l) => l.msg === 'tunnel handshake failed')).toBe(true);
    expect(lines.length).toBeGreaterThan(30);
    const forbidden: Record<string, string> = {
      'tunnel secret': h.secret,
      'wrong tunnel secret': wrongSecret,
      'API key': h.apiKey,
      "bob's API key": bobKey,
      'wrong API key': wrongKey,
      'Authorization value': `Bearer ${h.apiKey}`,
      'query-string token': queryToken,
    };
    const hits = Object.entries(forbidden).flatMap(([what, value]) => lines.filter((l) => l.includes(value)).map((l) => `${what}: ${l}`));
    expect(hits).toEqual([]);
  });
});
