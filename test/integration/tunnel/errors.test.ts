/**
 * Every way a request can fail at or behind the gateway, and bad input on the tunnel endpoint:
 * each failure gets its own status and a JSON-RPC-shaped body naming the server and the reason
 * (`error.data.code`, `error.data.server`), and the same tunnel connection keeps serving afterwards.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { startStreamableUpstream, type RawRouteHandler, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { Resources, waitFor } from '../../helpers';
import { startHarness, type Harness, type HarnessOptions } from '../../helpers/tunnel-harness';
import { startProxy, type ProxyStatus } from '../../../src/proxy';
import { CloseCode, closeCodeName } from '../../../src/protocol';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BODY_LIMIT = 1024 * 1024;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Parsed JSON body, if it was JSON. */
  json: { error?: { code: number; message: string; data: { code: string; server: string | null; requestId: string } } } | null;
}

interface RawResult {
  status: number;
  bytes: number;
  /** `IncomingMessage.complete`: the whole body arrived and was properly terminated. */
  complete: boolean;
  error: Error | null;
}

/** One HTTP request with node:http (no retries, no pooling surprises); reads the whole answer. */
function request(url: URL, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'POST', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        let json: Reply['json'] = null;
        try {
          json = JSON.parse(body) as Reply['json'];
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A GET whose body may be cut: reports how much arrived and whether the message completed. */
function rawGet(url: URL, headers: Record<string, string>): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      let bytes = 0;
      let error: Error | null = null;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('error', (e) => (error = e));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete, error }));
    });
    req.on('error', reject);
  });
}

function expectGatewayError(r: Reply, status: number, code: string, server: string | null): void {
  expect({ status: r.status, contentType: r.headers['content-type'] }).toEqual({ status, contentType: 'application/json' });
  expect(r.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000, data: { code, server } } });
  expect(r.json!.error!.message.length).toBeGreaterThan(10);
  expect(r.json!.error!.data.requestId).toMatch(UUID);
  expect(r.headers['x-request-id']).toBe(r.json!.error!.data.requestId);
}

/** A loopback port with nothing listening on it (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Upstream route that sends a 200 head and 64 KiB, then kills its socket (`?cl=1`: with a content-length). */
const dieMidBody: RawRouteHandler = ({ res, url }) => {
  const withLength = url.searchParams.get('cl') === '1';
  res.writeHead(200, { 'content-type': 'application/octet-stream', ...(withLength ? { 'content-length': String(1024 * 1024) } : {}) });
  res.write(Buffer.alloc(64 * 1024, 0x61), () => res.socket?.destroy());
};

describe('gateway errors', () => {
  const res = new Resources();
  let upstream: StreamableUpstreamHandle;
  let h: Harness;
  let bobKey: string;
  let deadPort: number;

  async function start(overrides: Partial<HarnessOptions> = {}): Promise<Harness> {
    upstream = res.add(await startStreamableUpstream({ rawRoutes: { '/raw/die': dieMidBody } }));
    deadPort = await closedPort();
    bobKey = randomBytes(24).toString('base64url');
    h = res.add(
      await startHarness({
        servers: [
          { name: 'notes', url: upstream.url },
          { name: 'echo', url: `${upstream.origin}/raw/echo-headers` },
          { name: 'other', url: `${upstream.origin}/raw/echo-headers` },
          { name: 'hang', url: `${upstream.origin}/raw/hang` },
          { name: 'dies', url: `${upstream.origin}/raw/die` },
          { name: 'dead', url: `http://127.0.0.1:${deadPort}/mcp` },
        ],
        ...overrides,
        gateway: (c) => {
          c.clients.push({ name: 'bob', apiKey: bobKey, servers: ['other'] });
          c.limits.maxRequestBodyBytes = BODY_LIMIT;
          overrides.gateway?.(c);
        },
        proxy: (c) => {
          c.upstream.headersTimeoutMs = 500;
          overrides.proxy?.(c);
        },
      }),
    );
    return h;
  }

  const auth = (key = h.apiKey): Record<string, string> => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

  /** The tunnel still serves a normal request, on the same proxy connection as before. */
  async function expectStillServing(connId?: string): Promise<void> {
    const r = await request(h.mcpUrl('echo'), { headers: auth(), body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ method: 'POST', url: '/raw/echo-headers', bodyBytes: 40 });
    if (connId !== undefined) expect(h.gateway.registry.connections('corp').map((c) => c.id)).toEqual([connId]);
  }

  const connId = (): string => h.gateway.registry.connections('corp')[0]!.id;

  afterEach(() => res.closeAll());

  it('unknown server → 404', async () => {
    await start();
    const id = connId();
    const r = await request(new URL(`${h.gateway.url}/mcp/nope`), { headers: auth(), body: '{}' });
    expectGatewayError(r, 404, 'TUNNEL_UNKNOWN_SERVER', 'nope');
    expect(r.json!.error!.message).toContain('unknown server "nope"');
    await expectStillServing(id);
  });

  it('a client not allowed to use the server → 403; the same client may use its own server', async () => {
    await start();
    const id = connId();
    const r = await request(h.mcpUrl('notes'), { headers: auth(bobKey), body: '{}' });
    expectGatewayError(r, 403, 'TUNNEL_FORBIDDEN', 'notes');
    expect(r.json!.error!.message).toBe('client "bob" may not use server "notes"');
    expect(upstream.state.requestsTo('/mcp')).toHaveLength(0);
    const ok = await request(h.mcpUrl('other'), { headers: auth(bobKey), body: '{}' });
    expect(ok.status).toBe(200);
    await expectStillServing(id);
  });

  it('missing or wrong API key → 401 with WWW-Authenticate, nothing forwarded', async () => {
    await start();
    const id = connId();
    const cases: Array<Record<string, string>> = [
      { 'content-type': 'application/json' },
      auth(randomBytes(24).toString('base64url')),
      { authorization: h.apiKey, 'content-type': 'application/json' }, // no scheme
      { authorization: `Basic ${Buffer.from(`alice:${h.apiKey}`).toString('base64')}` },
    ];
    for (const headers of cases) {
      const r = await request(h.mcpUrl('notes'), { headers, body: '{}' });
      expectGatewayError(r, 401, 'TUNNEL_UNAUTHENTICATED', 'notes');
      expect(r.headers['www-authenticate']).toMatch(/^Bearer /);
    }
    expect(upstream.state.requestCount).toBe(0);
    await expectStillServing(id);
  });

  it('no proxy connected → 503 with Retry-After; a proxy that connects during the wait gets the request', async () => {
    await start({ startProxy: false, gateway: (c) => (c.limits.connectWaitMs = 200) });
    const started = Date.now();
    const r = await request(h.mcpUrl('echo'), { headers: auth(), body: '{}' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expectGatewayError(r, 503, 'TUNNEL_NOT_CONNECTED', 'echo');
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);

    // Now wait long enough, and connect the proxy while the request is waiting.
    h.gateway.reload({ ...h.gatewayConfig, limits: { ...h.gatewayConfig.limits, connectWaitMs: 20_000 } });
    const acquire = jest.spyOn(h.gateway.registry, 'acquire');
    const pending = request(h.mcpUrl('echo'), { headers: auth(), body: '{"waiting":true}' });
    await waitFor(() => acquire.mock.calls.length === 1, { message: 'the request to wait for a tunnel connection' });
    expect(upstream.state.requestCount).toBe(0);
    await h.addProxy();
    const served = await pending;
    expect(served.status).toBe(200);
    expect(JSON.parse(served.body)).toMatchObject({ bodyBytes: 16 });
    await expectStillServing(connId());
  });

  it('upstream refuses connections → 502', async () => {
    await start();
    const id = connId();
    const r = await request(h.mcpUrl('dead'), { headers: auth(), body: '{}' });
    expectGatewayError(r, 502, 'TUNNEL_UPSTREAM_UNREACHABLE', 'dead');
    expect(r.json!.error!.message).toContain('server "dead" is unreachable from the proxy');
    await expectStillServing(id);
  });

  it('upstream sends no response head in time → 504, and the upstream request is closed', async () => {
    await start();
    const id = connId();
    const r = await request(h.mcpUrl('hang'), { headers: auth(), body: '{}' });
    expectGatewayError(r, 504, 'TUNNEL_UPSTREAM_TIMEOUT', 'hang');
    expect(r.json!.error!.message).toContain('server "hang" did not answer in time');
    await waitFor(() => upstream.state.closedRequests.some((q) => q.url === '/raw/hang'), { message: 'the upstream request to be closed' });
    await expectStillServing(id);
  });

  it.each([
    ['chunked', ''],
    ['with content-length', '?cl=1'],
  ])('upstream dies mid-body (%s) → the client connection is reset, not ended cleanly', async (_name, query) => {
    await start();
    const id = connId();
    const r = await rawGet(new URL(`${h.mcpUrl('dies').href}${query}`), { authorization: `Bearer ${h.apiKey}` });
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    expect(r.error).not.toBeNull();
    expect(r.bytes).toBeLessThanOrEqual(64 * 1024);
    await waitFor(() => h.logs.find((l) => l.msg === 'response failed mid-stream; client connection reset' && l.code === 'TUNNEL_UPSTREAM_RESET'));
    await expectStillServing(id);
  });

  it('body over limits.maxRequestBodyBytes with Content-Length → 413 before anything is forwarded', async () => {
    await start();
    const id = connId();
    const r = await request(h.mcpUrl('echo'), { headers: auth(), body: Buffer.alloc(2 * BODY_LIMIT, 0x20) });
    expectGatewayError(r, 413, 'TUNNEL_BODY_TOO_LARGE', 'echo');
    expect(r.json!.error!.message).toBe(`request body of ${2 * BODY_LIMIT} bytes exceeds the limit of ${BODY_LIMIT} bytes`);
    expect(upstream.state.requestCount).toBe(0);
    await expectStillServing(id);
  });

  it('chunked body over limits.maxRequestBodyBytes → 413 as soon as the limit is crossed', async () => {
    await start();
    const id = connId();
    // Send one byte over the limit and keep the request open: the answer must not wait for the end.
    const r = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(h.mcpUrl('echo'), { method: 'POST', headers: auth(), agent: false }, (resp) => {
        const chunks: Buffer[] = [];
        resp.on('data', (c: Buffer) => chunks.push(c));
        resp.on('error', reject);
        resp.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: resp.statusCode ?? 0, headers: resp.headers, body, json: JSON.parse(body) as Reply['json'] });
          req.destroy();
        });
      });
      req.on('error', () => undefined); // the gateway closes the connection after its answer
      req.write(Buffer.alloc(BODY_LIMIT + 1, 0x20));
    });
    expect(r.headers['transfer-encoding']).toBeUndefined();
    expectGatewayError(r, 413, 'TUNNEL_BODY_TOO_LARGE', 'echo');
    expect(r.json!.error!.message).toBe(`request body exceeds the limit of ${BODY_LIMIT} bytes`);
    expect(r.headers.connection).toBe('close');
    // Whatever reached the upstream was cut off: it never answered a truncated body.
    await waitFor(() => upstream.state.requests.filter((q) => q.url === '/raw/echo-headers').every((q) => q.closedEarly));
    await expectStillServing(id);
  });

  describe('tunnel endpoint', () => {
    it('a proxy with a wrong secret is refused permanently (4401) and the gateway logs it', async () => {
      await start();
      const id = connId();
      const wrong = randomBytes(32).toString('base64url');
      const bad = startProxy({ ...structuredClone(h.proxyConfig), secret: wrong, name: 'bad-proxy' }, { logger: h.logs.logger, auditLogger: h.proxyAudit.logger });
      res.defer(() => bad.close(0));
      let last: ProxyStatus | null = null;
      const sub = bad.status$.subscribe((s) => (last = s));
      res.defer(() => sub.unsubscribe());
      const waiting = await waitFor(() => (last?.state === 'waiting' ? last : null), { message: 'the bad proxy to wait' });
      expect(waiting).toMatchObject({ state: 'waiting', permanent: true, code: 'TUNNEL_AUTH_FAILED' });
      expect(waiting.delayMs).toBeGreaterThanOrEqual(30_000); // retries slowly, never hammers the gateway

      const failed = await waitFor(() => h.logs.find((l) => l.msg === 'tunnel handshake failed' && l.code === 'TUNNEL_AUTH_FAILED'));
      expect(failed).toMatchObject({ component: 'session', tunnel: 'corp', close: closeCodeName(CloseCode.AUTH_FAILED), remote: '127.0.0.1' });
      expect(h.gateway.registry.connections('corp').map((c) => c.id)).toEqual([id]);
      await expectStillServing(id);
    });

    /** Opens a raw WebSocket on the tunnel endpoint, runs `act` once open, resolves with the close. */
    function garbageClient(path: string, act: (ws: WebSocket) => void): Promise<{ code: number; reason: string; openedAt: number; closedAt: number }> {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${h.gateway.url.replace(/^http/, 'ws')}${path}`);
        let openedAt = 0;
        ws.on('open', () => {
          openedAt = Date.now();
          act(ws);
        });
        ws.on('error', reject);
        ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8'), openedAt, closedAt: Date.now() }));
      });
    }

    it('garbage WebSocket clients are closed (text 4400, random bytes 4400, silence 4408) while the real proxy keeps serving', async () => {
      await start({ gateway: (c) => (c.limits.handshakeTimeoutMs = 300) });
      const id = connId();
      const [text, bytes, silent] = await Promise.all([
        garbageClient('/tunnel/corp', (ws) => ws.send('{"type":"auth"}')),
        garbageClient('/tunnel/corp', (ws) => ws.send(randomBytes(200))),
        garbageClient('/tunnel/corp', () => undefined),
      ]);
      expect(text).toMatchObject({ code: CloseCode.PROTOCOL_ERROR });
      expect(bytes).toMatchObject({ code: CloseCode.PROTOCOL_ERROR });
      expect(silent).toMatchObject({ code: CloseCode.HANDSHAKE_TIMEOUT });
      expect(silent.closedAt - silent.openedAt).toBeGreaterThanOrEqual(250);
      await waitFor(() => h.logs.lines.filter((l) => l.msg === 'tunnel handshake failed').length >= 2);

      // An unknown tunnel id is refused at the upgrade with HTTP 404.
      const unknown = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`${h.gateway.url.replace(/^http/, 'ws')}/tunnel/nope`);
        ws.on('unexpected-response', (_req, resp) => {
          resolve(resp.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('error', () => undefined);
      });
      expect(unknown).toBe(404);

      await expectStillServing(id);
      expect(h.gateway.registry.connections('corp')).toHaveLength(1);
    });
  });
});
