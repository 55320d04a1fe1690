import { request } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { LoopMonitor, Metrics, runHealth, startOpsServer, type OpsServer, type Readiness } from '../../../src/ops';
import { silentLogger } from '../../../src/log';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw GET with full control of the head (Host included), as a scraper or an attacker sends it. */
function get(server: OpsServer, path: string, opts: { method?: string; host?: string } = {}): Promise<Reply> {
  if (opts.host !== undefined) return raw(server, `${opts.method ?? 'GET'} ${path} HTTP/1.1\r\nHost: ${opts.host}\r\nConnection: close\r\n\r\n`);
  return new Promise((resolve, reject) => {
    const req = request({ host: server.address.host, port: server.address.port, path, method: opts.method ?? 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends a request head byte for byte (repeated Host lines included) and parses the reply. */
function raw(server: OpsServer, head: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sock = connect(server.address.port, server.address.host, () => sock.end(head));
    let text = '';
    sock.setEncoding('latin1');
    sock.on('data', (c: string) => (text += c));
    sock.on('error', reject);
    sock.on('close', () => {
      const [top = '', body = ''] = text.split('\r\n\r\n', 2);
      const [status, ...lines] = top.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(status!.split(' ')[1]), headers, body });
    });
  });
}

describe('ops listener', () => {
  let ops: OpsServer | undefined;
  let blocker: Server | undefined;
  let readiness: Readiness;
  const lines: string[] = [];
  const io = { out: (l: string) => lines.push(`out:${l}`), err: (l: string) => lines.push(`err:${l}`), env: {} };

  beforeEach(() => {
    readiness = { ready: false, reason: 'no authenticated tunnel connection' };
    lines.length = 0;
  });
  afterEach(async () => {
    await ops?.close();
    ops = undefined;
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
    blocker = undefined;
  });

  async function start(extra: Partial<Parameters<typeof startOpsServer>[0]> = {}): Promise<OpsServer> {
    const metrics = new Metrics({ role: 'gateway', version: '0.0.0-test', defaultMetrics: false });
    metrics.server('notes').started(false);
    metrics.server('notes').finished(false, 200, 3, 4, 0.01);
    ops = await startOpsServer({ listen: { host: '127.0.0.1', port: 0 }, ready: () => readiness, metrics, logger: silentLogger(), ...extra });
    return ops;
  }

  it('/readyz answers 503 until ready, then 200 with per-tunnel readiness; `health` exits 1 then 0', async () => {
    const s = await start();
    let r = await get(s, '/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toEqual({ status: 'not ready', ready: false, reason: 'no authenticated tunnel connection' });
    expect(await runHealth(['--url', s.url], io)).toBe(1);
    expect(lines.pop()).toMatch(/^err:TUNNEL_HEALTH_NOT_READY: not ready .* answered 503/);

    readiness = { ready: true, tunnels: { corp: { ready: true, connections: 2 }, lab: { ready: false, connections: 0 } } };
    r = await get(s, '/readyz');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(r.body)).toEqual({ status: 'ready', ready: true, tunnels: readiness.tunnels });
    expect(await runHealth([`--url=${s.url}`], io)).toBe(0);
    expect(lines.pop()).toBe(`out:ready (${s.url})`);
  });

  it('/readyz answers 503 TUNNEL_OPS_READINESS_FAILED when the readiness check throws', async () => {
    const s = await start({ ready: () => Promise.reject(new Error('boom')) });
    const r = await get(s, '/readyz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error.code).toBe('TUNNEL_OPS_READINESS_FAILED');
  });

  it('/healthz is 200 while the loop runs and 503 after a stall (real event-loop block)', async () => {
    const loop = new LoopMonitor({ intervalMs: 20, stallMs: 150, holdMs: 60_000 });
    const s = await start({ loop });
    let r = await get(s, '/healthz');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'ok' });
    const until = Date.now() + 400;
    while (Date.now() < until); // block the event loop, as a runaway synchronous task would
    r = await get(s, '/healthz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'unhealthy', reason: 'event loop stalled' });
    expect(JSON.parse(r.body).eventLoopMaxLagMs).toBeGreaterThanOrEqual(150);
  });

  it('/healthz is 503 when the extra liveness check fails (a stuck supervisor)', async () => {
    const s = await start({ health: () => ({ ok: false, reason: 'supervisor stuck' }) });
    const r = await get(s, '/healthz');
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ reason: 'supervisor stuck' });
  });

  it('/metrics serves the Prometheus text format; HEAD sends no body', async () => {
    const s = await start();
    const r = await get(s, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.body).toContain('mcp_tunnel_requests_total{server="notes",code_class="2xx"} 1');
    expect(r.body).toContain('mcp_tunnel_request_duration_seconds_bucket{server="notes",le="+Inf"} 1');
    const h = await get(s, '/metrics', { method: 'HEAD' });
    expect([h.status, h.body]).toEqual([200, '']);
  });

  // DNS rebinding: a page on evil.example re-points its name at 127.0.0.1 and reads /metrics (tunnel
  // ids, server names) with the victim's browser. Only IP literals, localhost and allowed names pass.
  it.each([['evil.example:9464'], ['evil.example'], ['127.0.0.1.evil.example'], [''], ['127.0.0.1:1@evil.example'], ['127.0.0.1\r\nHost: evil.example']])(
    'refuses Host %j with 403 TUNNEL_OPS_HOST_DENIED',
    async (host) => {
      const s = await start();
      for (const path of ['/metrics', '/readyz', '/healthz']) {
        const r = await get(s, path, { host });
        expect([r.status, JSON.parse(r.body).error.code]).toEqual([403, 'TUNNEL_OPS_HOST_DENIED']);
      }
    },
  );

  it.each([['127.0.0.1:1'], ['localhost'], ['LOCALHOST:9464'], ['[::1]:9464'], ['10.1.2.3:9464'], ['scrape.internal']])('accepts Host %j (scrape.internal via allowedHosts)', async (host) => {
    const s = await start({ allowedHosts: ['Scrape.Internal'] });
    expect((await get(s, '/metrics', { host })).status).toBe(200);
  });

  it.each([['/'], ['/healthz/'], ['//healthz'], ['/HEALTHZ'], ['/metrics/../readyz'], ['http://127.0.0.1/healthz'], ['/%68ealthz']])('answers 404 TUNNEL_OPS_NOT_FOUND for %s', async (path) => {
    const s = await start();
    const r = await get(s, path);
    expect([r.status, JSON.parse(r.body).error.code]).toEqual([404, 'TUNNEL_OPS_NOT_FOUND']);
  });

  it('answers 404 on /metrics when no metrics are configured, and keeps query strings off the route', async () => {
    const s = await start({ metrics: undefined });
    expect((await get(s, '/metrics')).status).toBe(404);
    readiness = { ready: true };
    expect((await get(s, '/readyz?x=1')).status).toBe(200);
  });

  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS'])('answers %s with 405 and Allow: GET, HEAD', async (method) => {
    const s = await start();
    const r = await get(s, '/readyz', { method });
    expect([r.status, r.headers['allow'], JSON.parse(r.body).error.code]).toEqual([405, 'GET, HEAD', 'TUNNEL_OPS_METHOD_NOT_ALLOWED']);
  });

  it('a port in use is one clear TUNNEL_OPS_LISTEN_FAILED error', async () => {
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    await expect(startOpsServer({ listen: { host: '127.0.0.1', port }, ready: () => readiness, logger: silentLogger() })).rejects.toMatchObject({
      code: 'TUNNEL_OPS_LISTEN_FAILED',
      message: `ops listener cannot listen on 127.0.0.1:${port}: the port is in use`,
    });
  });

  it('`health` exits 1 with TUNNEL_HEALTH_UNREACHABLE when nothing listens, and on a silent peer within --timeout-ms', async () => {
    blocker = createServer((sock) => sock.resume()); // reads and never answers
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    expect(await runHealth(['--url', `http://127.0.0.1:${port}`, '--timeout-ms', '200'], io)).toBe(1);
    expect(lines.pop()).toBe(`err:TUNNEL_HEALTH_UNREACHABLE: no answer from http://127.0.0.1:${port} within 200 ms`);
    await new Promise<void>((r) => blocker!.close(() => r()));
    blocker = undefined;
    expect(await runHealth(['--url', `http://127.0.0.1:${port}`], io)).toBe(1);
    expect(lines.pop()).toBe(`err:TUNNEL_HEALTH_UNREACHABLE: cannot reach http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('`health` reads MCP_TUNNEL_OPS_LISTEN when --url is not given', async () => {
    const s = await start();
    readiness = { ready: true };
    expect(await runHealth([], { ...io, env: { MCP_TUNNEL_OPS_LISTEN: `127.0.0.1:${s.address.port}` } })).toBe(0);
    expect(await runHealth([], { ...io, env: { MCP_TUNNEL_OPS_LISTEN: `0.0.0.0:${s.address.port}` } })).toBe(0);
  });

  it.each([
    [['--url', 'https://127.0.0.1:9464']],
    [['--url', 'http://127.0.0.1:9464/readyz']],
    [['--url', 'http://u:p@127.0.0.1:9464']],
    [['--url', 'not a url']],
    [['--url']],
    [['--timeout-ms', '0']],
    [['--verbose']],
  ])('`health %j` exits 1 with TUNNEL_HEALTH_USAGE', async (argv) => {
    expect(await runHealth(argv, io)).toBe(1);
    expect(lines.pop()).toMatch(/^err:TUNNEL_HEALTH_USAGE: .*\nUsage: mcp-tunnel health/s);
  });
});
