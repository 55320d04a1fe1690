/**
 * Limits against hostile or broken peers, on a real gateway over loopback: unauthenticated
 * connections per address and in total, connection attempts per tunnel per minute (HTTP 429 at the
 * upgrade, with a warn log naming the limit and the source), concurrent streams per connection, and
 * the proxy's backoff after refusals (wrong secret, 429).
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { Resources, waitFor } from '../../helpers';
import { startHarness, type Harness, type HarnessOptions } from '../../helpers/tunnel-harness';
import { startProxy, type ProxyStatus } from '../../../src/proxy';

let h: Harness;
let upstreamServer: http.Server;
let upstreamUrl: string;
let held: Array<() => void> = [];
let inFlight = 0;
const res = new Resources();

beforeEach(async () => {
  held = [];
  inFlight = 0;
  // POST /slow is answered only when the test releases it; anything else at once.
  upstreamServer = http.createServer((req, r) => {
    req.resume();
    const answer = (): void => {
      r.setHeader('content-type', 'application/json');
      r.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    };
    if (req.url === '/slow') {
      inFlight++;
      held.push(() => {
        inFlight--;
        answer();
      });
    } else answer();
  });
  upstreamServer.listen(0, '127.0.0.1');
  await once(upstreamServer, 'listening');
  upstreamUrl = `http://127.0.0.1:${(upstreamServer.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const r of held) r();
  await res.closeAll();
  await h?.close();
  upstreamServer.closeAllConnections();
  await new Promise<void>((r) => upstreamServer.close(() => r()));
});

async function start(opts: Partial<HarnessOptions> = {}): Promise<void> {
  h = await startHarness({ servers: [{ name: 'notes', url: `${upstreamUrl}/mcp` }, { name: 'slow', url: `${upstreamUrl}/slow` }], ...opts });
}

function call(server: string): Promise<{ status: number; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.request(h.mcpUrl(server), { method: 'POST', agent: false, headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json' } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { data?: { code?: string } } }).error?.data?.code;
        } catch {
          code = undefined;
        }
        resolve({ status: r.statusCode ?? 0, code });
      });
    });
    req.on('error', reject);
    req.end('{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
  });
}

/** A raw WebSocket to the tunnel endpoint that never authenticates. Resolves once open, or with the refusal. */
function rawClient(localAddress = '127.0.0.1'): Promise<{ ws: WebSocket } | { status: number; retryAfter: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${h.gateway.url.replace(/^http/, 'ws')}/tunnel/corp`, { localAddress });
    res.defer(() => ws.terminate());
    ws.on('open', () => resolve({ ws }));
    ws.on('unexpected-response', (_req, r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, retryAfter: r.headers['retry-after'], body: Buffer.concat(chunks).toString('utf8') }));
    });
    ws.on('error', (err) => {
      if (ws.readyState === WebSocket.CONNECTING) reject(err);
    });
  });
}

const refusals = (): Array<Record<string, unknown>> => h.logs.lines.filter((l) => l.msg === 'tunnel connection refused: connection limit');

describe('connection limits at the tunnel upgrade', () => {
  it('unauthenticated connections per source address → 429 with Retry-After and a warn log; the slot frees when one closes', async () => {
    await start({ gateway: (c) => (c.limits.maxUnauthenticatedPerAddress = 2) });
    const a = await rawClient();
    const b = await rawClient();
    expect('ws' in a && 'ws' in b).toBe(true);
    const refused = await rawClient();
    expect(refused).toMatchObject({ status: 429, retryAfter: '1', body: 'too many connections (maxUnauthenticatedPerAddress)\n' });
    expect(refusals()[0]).toMatchObject({
      level: 40,
      code: 'TUNNEL_TOO_MANY_CONNECTIONS',
      limit: 'maxUnauthenticatedPerAddress',
      remote: '127.0.0.1',
      tunnel: 'corp',
      reason: '2 unauthenticated connections from 127.0.0.1 (limit 2)',
    });
    // Another address is not affected.
    expect('ws' in (await rawClient('127.0.0.2'))).toBe(true);
    // The authenticated proxy does not count, and keeps serving.
    expect((await call('notes')).status).toBe(200);
    if ('ws' in a) a.ws.close();
    await waitFor(async () => {
      const again = await rawClient();
      return 'ws' in again;
    });
  });

  it('unauthenticated connections in total → 429 naming the limit', async () => {
    await start({ gateway: (c) => (c.limits.maxUnauthenticated = 2) });
    expect('ws' in (await rawClient('127.0.0.2'))).toBe(true);
    expect('ws' in (await rawClient('127.0.0.3'))).toBe(true);
    expect(await rawClient('127.0.0.4')).toMatchObject({ status: 429 });
    expect(refusals()[0]).toMatchObject({ limit: 'maxUnauthenticated', remote: '127.0.0.4', reason: '2 unauthenticated connections in total (limit 2)' });
    expect((await call('notes')).status).toBe(200);
  });

  it('failed connection attempts per tunnel and source per minute → 429 with Retry-After; a proxy refused so backs off instead of hammering', async () => {
    await start({ gateway: (c) => (c.limits.connectAttemptsPerMinute = 3) }); // the harness proxy's success does not count
    for (let i = 0; i < 3; i++) {
      const c = await rawClient();
      if ('ws' in c) {
        c.ws.close();
        await once(c.ws, 'close');
      }
    }
    const refused = await waitFor(async () => {
      const r = await rawClient();
      return 'status' in r ? r : false;
    });
    expect(refused).toMatchObject({ status: 429 });
    const retryAfter = Number((refused as { retryAfter: string }).retryAfter);
    expect(retryAfter).toBeGreaterThan(50);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refusals()[0]).toMatchObject({ limit: 'connectAttemptsPerMinute', reason: '3 failed connection attempts for tunnel "corp" from 127.0.0.1 in the last minute (limit 3)' });

    const second = startProxy({ ...structuredClone(h.proxyConfig), name: 'second' }, { logger: h.logs.logger, auditLogger: h.proxyAudit.logger, random: () => 0 });
    res.defer(() => second.close(0));
    let last: ProxyStatus | null = null;
    const sub = second.status$.subscribe((s) => (last = s));
    res.defer(() => sub.unsubscribe());
    const waiting = await waitFor(() => (last?.state === 'waiting' ? last : null));
    // Even with zero jitter, the proxy waits at least the gateway's Retry-After (not permanent: it will come back).
    expect(waiting).toMatchObject({ code: 'TUNNEL_TOO_MANY_CONNECTIONS', permanent: false });
    expect(waiting.delayMs).toBeGreaterThanOrEqual((retryAfter - 1) * 1000);
    expect((await call('notes')).status).toBe(200);
  });

  it('concurrent streams per connection: the gateway opens at most limits.maxStreamsPerConnection, even if the proxy offers more', async () => {
    await start({ gateway: (c) => ((c.limits.maxStreamsPerConnection = 2), (c.limits.connectWaitMs = 100)) });
    const slow = [call('slow'), call('slow')];
    await waitFor(() => inFlight === 2);
    const third = await call('slow');
    expect(third.status).toBe(503);
    expect(inFlight).toBe(2);
    for (const r of held.splice(0)) r();
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
    expect((await call('notes')).status).toBe(200);
  });

  it("concurrent streams per connection: the proxy's smaller limits.maxStreams is respected by the gateway", async () => {
    await start({ gateway: (c) => (c.limits.connectWaitMs = 100), proxy: (c) => (c.limits.maxStreams = 1) });
    const first = call('slow');
    await waitFor(() => inFlight === 1);
    expect((await call('slow')).status).toBe(503);
    expect(inFlight).toBe(1);
    for (const r of held.splice(0)) r();
    expect((await first).status).toBe(200);
  });
});

describe('regression (issue 8 defect 11): anonymous upgrades cannot lock a tunnel out', () => {
  it('a storm of bare upgrades to a tunnel id from another address while the real proxy reconnects: the proxy still gets in', async () => {
    await start({ gateway: (c) => (c.limits.connectAttemptsPerMinute = 5) });
    // The storm: far more bare upgrades than the limit, each closed without a handshake (anyone can).
    let refusedStorm = 0;
    for (let i = 0; i < 20; i++) {
      const c = await rawClient('127.0.0.2');
      if ('ws' in c) {
        c.ws.close();
        await once(c.ws, 'close');
      } else refusedStorm++;
    }
    expect(refusedStorm).toBeGreaterThan(0); // the storm itself is limited...
    // ...but it spent only its own source's allowance: a proxy (re)connecting gets in at once.
    const again = startProxy({ ...structuredClone(h.proxyConfig), name: 'reconnecting' }, { logger: h.logs.logger, auditLogger: h.proxyAudit.logger });
    res.defer(() => again.close(0));
    let refusedProxy = false;
    const sub = again.status$.subscribe((st) => {
      if (st.state === 'waiting' && st.code === 'TUNNEL_TOO_MANY_CONNECTIONS') refusedProxy = true;
    });
    res.defer(() => sub.unsubscribe());
    await Promise.race([again.ready, waitFor(() => refusedProxy).then(() => Promise.reject(new Error('the proxy was locked out (429)')))]);
    expect(h.gateway.registry.connections('corp')).toHaveLength(2);
    expect((await call('notes')).status).toBe(200);
  });

  it('the public /healthz reveals no tunnel ids', async () => {
    await start();
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get(`${h.gateway.url}/healthz`, { agent: false }, (r) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        })
        .on('error', reject);
    });
    expect(JSON.parse(body)).toEqual({ status: 'ok' });
    expect(body).not.toContain('corp');
  });
});

describe('proxy backoff after refusals', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('a proxy with a wrong secret makes at most 2 attempts per minute (simulated 5 minutes, zero jitter)', async () => {
    await start();
    // Fake only the clocks: sockets, setImmediate and nextTick stay real, so the handshakes really run.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const bad = startProxy({ ...structuredClone(h.proxyConfig), secret: randomBytes(32).toString('base64url'), name: 'bad' }, { logger: h.logs.logger, auditLogger: h.proxyAudit.logger, random: () => 0 });
    res.defer(() => bad.close(0));
    const states: ProxyStatus[] = [];
    const sub = bad.status$.subscribe((s) => states.push(s));
    res.defer(() => sub.unsubscribe());
    const settle = async (): Promise<void> => {
      // Real I/O runs between immediates; wait until the attempt in progress (if any) has failed.
      for (let i = 0; i < 5000 && states.at(-1)?.state !== 'waiting'; i++) await new Promise((r) => setImmediate(r));
    };
    await settle();
    for (let second = 0; second < 300; second++) {
      jest.advanceTimersByTime(1000);
      await settle();
    }
    const attempts = states.filter((s) => s.state === 'connecting').length;
    const waits = states.filter((s): s is Extract<ProxyStatus, { state: 'waiting' }> => s.state === 'waiting');
    expect(waits.every((w) => w.permanent && w.code === 'TUNNEL_AUTH_FAILED' && w.delayMs >= 30_000)).toBe(true);
    // t = 0, 30, 60, … 300 s: 11 attempts in 5 minutes, never more than 2 in any 60 s.
    expect(attempts).toBeLessThanOrEqual(11);
    expect(attempts).toBeGreaterThanOrEqual(9);
    const failed = h.logs.lines.filter((l) => l.msg === 'tunnel handshake failed' && l.code === 'TUNNEL_AUTH_FAILED').length;
    expect(failed).toBe(attempts);
  });
});
