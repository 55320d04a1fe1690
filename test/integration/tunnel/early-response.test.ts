/**
 * Issue 8, defect 9: an upstream that answers before reading the whole request body (the official
 * SDK's transport answers 413 from `Content-Length` over its limit without reading a byte) must not
 * strand flow-control credit. Before the fix the proxy never read the rest of the tunnel stream, so
 * each such request kept up to a stream window of connection credit; after ~64 of them the 16 MiB
 * connection window was gone and every later request with a body on that connection hung.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Resources, waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { startStreamableUpstream } from '../../fixtures/mcp-upstream';

const res = new Resources();
afterEach(() => res.closeAll());

const BIG = 5 * 1024 * 1024;
const ROUNDS = 100;
const REQUEST_TIMEOUT_MS = 15_000;

interface Answer {
  status: number;
  body: string;
  connection: string | undefined;
}

/** POSTs `body` on a fresh connection; resolves with the answer, however the upload ends (bounded). */
function post(url: URL, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`POST ${url.pathname} hung for ${REQUEST_TIMEOUT_MS} ms (stranded tunnel credit?)`));
    }, REQUEST_TIMEOUT_MS);
    let answered = false;
    const req = http.request(url, { method: 'POST', agent: false, headers: { ...headers, 'content-length': String(body.length) } }, (r) => {
      answered = true;
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        clearTimeout(timer);
        resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), connection: r.headers.connection });
      });
    });
    // The gateway closes the connection after an early answer: the rest of the upload fails (EPIPE).
    req.on('error', (err) => {
      if (answered) return;
      clearTimeout(timer);
      reject(err);
    });
    req.end(body);
  });
}

async function echoServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, r) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => r.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes: n })));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/echo`,
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const records = (h: Harness, side: 'gateway' | 'proxy', server: string): Array<Record<string, unknown>> =>
  (side === 'gateway' ? h.gatewayAudit : h.proxyAudit).lines.filter((l) => l['server'] === server && typeof l['rid'] === 'string');

describe('an upstream answering before it read the request body', () => {
  it('413 from Content-Length on a 5 MB POST, 100 times on one tunnel connection, then a request with a body still succeeds (regression: stranded credit jammed the connection)', async () => {
    const upstream = res.add(await startStreamableUpstream({ stateless: true, enableJsonResponse: true, maxRequestBodySize: 4 * 1024 * 1024 }));
    const echo = res.add(await echoServer());
    const h = res.add(await startHarness({ servers: [{ name: 'notes', url: upstream.url }, { name: 'echo', url: echo.url }] }));
    const headers = { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const [conn] = h.gateway.registry.connections('corp');
    expect(conn).toBeDefined();
    const big = Buffer.alloc(BIG, 0x20);

    for (let i = 0; i < ROUNDS; i++) {
      const a = await post(h.mcpUrl('notes'), big, headers);
      expect(a.status).toBe(413);
      expect(a.body).toContain('Payload Too Large');
      // The body was still arriving when the head went out: the client connection is not reused.
      expect(a.connection).toBe('close');
    }

    // Same tunnel connection throughout, and it still carries a body (1 MiB, four stream windows).
    expect(h.gateway.registry.connections('corp').map((c) => c.id)).toEqual([conn!.id]);
    const ok = await post(h.mcpUrl('echo'), Buffer.alloc(1024 * 1024, 0x61), headers);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ bytes: 1024 * 1024 });

    // Both audit records of each early-answered request count the same bytes: what went into the tunnel.
    await waitFor(() => records(h, 'gateway', 'notes').length === ROUNDS && records(h, 'proxy', 'notes').length === ROUNDS, { timeoutMs: 20_000 });
    const proxyIn = new Map(records(h, 'proxy', 'notes').map((r) => [r['rid'], r['bytesIn']]));
    for (const g of records(h, 'gateway', 'notes')) {
      expect(g['status']).toBe(413);
      expect(g['bytesIn']).toBeGreaterThan(0);
      expect(g['bytesIn']).toBeLessThan(BIG);
      expect(proxyIn.get(g['rid'])).toBe(g['bytesIn']);
    }
  }, 240_000);
});
