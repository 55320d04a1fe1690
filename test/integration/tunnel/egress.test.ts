/**
 * The proxy's egress allowlist end to end: a refused target is 403 TUNNEL_EGRESS_DENIED at the
 * client, and both audit records name it (the proxy's with the rule decision), while allowed
 * servers on the same tunnel keep working.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';

let h: Harness | undefined;
const servers: http.Server[] = [];
const sockets = new Set<Socket>();

async function upstream(host: string, port: number): Promise<{ port: number; hits: () => number }> {
  let hits = 0;
  const server = http.createServer((req, res) => {
    hits++;
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { host } }));
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.listen(port, host);
  await once(server, 'listening');
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, hits: () => hits };
}

afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const s of sockets) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

function post(url: URL, apiKey: string): Promise<{ status: number; json: { error?: { message: string; data: { code: string; requestId: string } } } }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as never }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
  });
}

describe('egress allowlist through the tunnel', () => {
  it('refused target → 403 TUNNEL_EGRESS_DENIED, audit records on both sides; allowed servers keep working', async () => {
    const ok = await upstream('127.0.0.1', 0);
    const bad = await upstream('127.0.0.2', ok.port);
    h = await startHarness({
      servers: [
        { name: 'notes', url: `http://127.0.0.1:${ok.port}/mcp` },
        { name: 'secret-db', url: `http://127.0.0.2:${ok.port}/mcp` },
        { name: 'by-name', url: `http://localhost:${ok.port}/mcp` },
      ],
      proxy: (c) => (c.upstream.allow = [`127.0.0.1/32:${ok.port}`]),
    });

    const denied = await post(h.mcpUrl('secret-db'), h.apiKey);
    expect(denied.status).toBe(403);
    expect(denied.json.error?.data.code).toBe('TUNNEL_EGRESS_DENIED');
    expect(denied.json.error?.message).toContain(`denied: no rule matches 127.0.0.2:${ok.port}`);
    expect(bad.hits()).toBe(0);
    const rid = denied.json.error!.data.requestId;

    const gw = await waitFor(() => h!.gatewayAudit.find((l) => l.rid === rid));
    expect(gw).toMatchObject({ side: 'gateway', server: 'secret-db', status: 403, outcome: 'error', errorCode: 'TUNNEL_EGRESS_DENIED' });
    const px = await waitFor(() => h!.proxyAudit.find((l) => l.rid === rid));
    expect(px).toMatchObject({
      side: 'proxy',
      server: 'secret-db',
      outcome: 'error',
      errorCode: 'TUNNEL_UPSTREAM_FORBIDDEN',
      egress: `denied: no rule matches 127.0.0.2:${ok.port}`,
    });
    const line = await waitFor(() => h!.logs.find((l) => l.rid === rid && l.msg === 'upstream request failed' && l.component === 'dispatch'));
    expect(line).toMatchObject({ code: 'TUNNEL_UPSTREAM_FORBIDDEN', egress: `denied: no rule matches 127.0.0.2:${ok.port}` });

    // The same tunnel serves allowed targets, by IP and by a name resolving into the rule's block.
    const allowed = await post(h.mcpUrl('notes'), h.apiKey);
    expect(allowed.status).toBe(200);
    const byName = await post(h.mcpUrl('by-name'), h.apiKey);
    expect(byName.status).toBe(200);
    const okRecord = await waitFor(() => h!.proxyAudit.find((l) => l.server === 'notes'));
    expect(okRecord).toMatchObject({ outcome: 'ok', egress: null });
  });
});
