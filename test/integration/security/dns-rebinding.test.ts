/**
 * Issue 8 defect 10 (DNS rebinding): the gateway rewrites `Host` for the upstream, so an internal
 * server's own Host check (the SDK's `createMcpExpressApp` protects loopback servers) can no longer
 * work through it. The conformance suite's dns-rebinding-protection idea, against a real SDK express
 * upstream: direct, a foreign Host gets 403 from the upstream; through the tunnel the gateway must
 * refuse foreign Hosts and Origins itself (before, it forwarded them and the upstream answered 200).
 */
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { Resources, connectClient } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import type { GatewayConfig } from '../../../src/config/types';
import { initializeBody, rawRequest } from '../passthrough/helpers';

const res = new Resources();
afterEach(() => res.closeAll());

interface SdkUpstream {
  url: string;
  /** Origin headers of the requests the upstream executed. */
  origins: Array<string | undefined>;
}

/** The way real servers are built: the SDK's express app (Host validation on loopback), stateless. */
async function startSdkUpstream(): Promise<SdkUpstream> {
  const app = createMcpExpressApp();
  const origins: Array<string | undefined> = [];
  // express has no type declarations here; its req/res are Node's, with the parsed body added.
  app.post('/mcp', (req: IncomingMessage & { body?: unknown }, out: ServerResponse) => {
    origins.push(req.headers.origin);
    const server = new McpServer({ name: 'guarded', version: '1.0.0' });
    server.registerTool('echo', { description: 'echo' }, () => ({ content: [{ type: 'text', text: 'ok' }] }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    out.on('close', () => void transport.close().then(() => server.close()));
    void server.connect(transport).then(() => transport.handleRequest(req, out, req.body));
  });
  const http: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  res.defer(() => new Promise<void>((r) => {
    http.closeAllConnections();
    http.close(() => r());
  }));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`, origins };
}

async function start(gateway?: (c: GatewayConfig) => void): Promise<{ up: SdkUpstream; h: Harness; via: string; auth: [string, string] }> {
  const up = await startSdkUpstream();
  const h = res.add(await startHarness({ servers: [{ name: 'guarded', url: up.url }], gateway }));
  return { up, h, via: h.mcpUrl('guarded').href, auth: ['Authorization', `Bearer ${h.apiKey}`] };
}

const JSON_HEADERS: Array<[string, string]> = [
  ['Content-Type', 'application/json'],
  ['Accept', 'application/json, text/event-stream'],
];

function codeOf(body: Buffer): string | undefined {
  return (JSON.parse(body.toString('utf8')) as { error?: { data?: { code?: string } } }).error?.data?.code;
}

describe('DNS rebinding (issue 8 defect 10)', () => {
  it('a foreign Host is refused at the gateway with 403 TUNNEL_HOST_DENIED, as the SDK upstream refuses it direct', async () => {
    const { up, h, via, auth } = await start();
    const evilHost: [string, string] = ['Host', 'evil.example:8080'];
    // Direct: the SDK server protects itself.
    const direct = await rawRequest(up.url, { method: 'POST', headers: [evilHost, ...JSON_HEADERS], body: initializeBody() });
    expect(direct.status).toBe(403);
    // Through the tunnel: the gateway must take the check over (it sends the upstream its own Host).
    const tunnelled = await rawRequest(via, { method: 'POST', headers: [evilHost, auth, ...JSON_HEADERS], body: initializeBody() });
    expect(tunnelled.status).toBe(403);
    expect(codeOf(tunnelled.body)).toBe('TUNNEL_HOST_DENIED');
    // Loopback names stay accepted, whatever the port; nothing refused reached the upstream.
    for (const host of [new URL(via).host, `localhost:${new URL(via).port}`, '127.0.0.7']) {
      const ok = await rawRequest(via, { method: 'POST', headers: [['Host', host], auth, ...JSON_HEADERS], body: initializeBody() });
      expect(ok.status).toBe(200);
    }
    expect(up.origins).toHaveLength(3);
    expect(h.gatewayAudit.find((l) => l.errorCode === 'TUNNEL_HOST_DENIED')).toMatchObject({ status: 403, client: null, server: 'guarded', path: '/mcp/guarded' });
  });

  it('a foreign Origin (and Origin: null) is refused with 403 TUNNEL_ORIGIN_DENIED, the preflight included; the same origin and allowedOrigins pass, Origin unchanged', async () => {
    const { up, via, auth } = await start((c) => (c.allowedOrigins = ['http://localhost:5173']));
    for (const origin of ['http://evil.example', 'null', `http://localhost:${Number(new URL(via).port) + 1}`, `https://${new URL(via).host}`]) {
      const r = await rawRequest(via, { method: 'POST', headers: [['Origin', origin], auth, ...JSON_HEADERS], body: initializeBody() });
      expect(r.status).toBe(403);
      expect(codeOf(r.body)).toBe('TUNNEL_ORIGIN_DENIED');
      expect(r.headers['access-control-allow-origin']).toBeUndefined();
      const pre = await rawRequest(via, { method: 'OPTIONS', headers: [['Origin', origin], ['Access-Control-Request-Method', 'POST']] });
      expect(pre.status).toBe(403);
    }
    // Two Origin headers are one too many: no reading of them is trusted.
    const twice = await rawRequest(via, { method: 'POST', headers: [['Origin', 'http://localhost:5173'], ['Origin', 'http://evil.example'], auth, ...JSON_HEADERS], body: initializeBody() });
    expect(twice.status).toBe(403);
    expect(up.origins).toEqual([]);

    for (const origin of [new URL(via).origin, 'http://localhost:5173']) {
      const r = await rawRequest(via, { method: 'POST', headers: [['Origin', origin], auth, ...JSON_HEADERS], body: initializeBody() });
      expect(r.status).toBe(200);
      expect(r.headers['access-control-allow-origin']).toBe(origin);
    }
    expect(up.origins).toEqual([new URL(via).origin, 'http://localhost:5173']);
  });

  it('allowedHosts (behind a load balancer) accepts exactly the listed names; the SDK client works through it', async () => {
    const { h, via, auth } = await start((c) => (c.allowedHosts = ['mcp.example.com', '127.0.0.1']));
    const listed = await rawRequest(via, { method: 'POST', headers: [['Host', 'mcp.example.com'], auth, ...JSON_HEADERS], body: initializeBody() });
    expect(listed.status).toBe(200);
    // localhost is not listed: with allowedHosts set, only the list counts.
    const unlisted = await rawRequest(via, { method: 'POST', headers: [['Host', `localhost:${new URL(via).port}`], auth, ...JSON_HEADERS], body: initializeBody() });
    expect(unlisted.status).toBe(403);
    const c = res.add(await connectClient(new URL(via), { headers: { Authorization: `Bearer ${h.apiKey}` } }));
    expect((await c.client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
  });
});
