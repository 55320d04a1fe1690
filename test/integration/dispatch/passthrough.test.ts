import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { silentLogger } from '../../../src/log';
import { createUpstreamDispatcher, type UpstreamDispatcher, type UpstreamRequest } from '../../../src/dispatch';
import { fromNodeRawHeaders, toNodeHeaders, type HeaderList } from '../../../src/http';
import { readAll, startHttpServer, upstreamConfig, type TestServer } from './helpers';

let upstream: TestServer | undefined;
let dispatcher: UpstreamDispatcher | undefined;
const extraClose: Array<() => Promise<void>> = [];

afterEach(async () => {
  await dispatcher?.close();
  await upstream?.close();
  for (const close of extraClose.splice(0)) await close();
  dispatcher = undefined;
  upstream = undefined;
});

function request(url: string, over: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return { rid: 'r1', server: 'files', url, method: 'GET', headers: [], body: null, signal: new AbortController().signal, ...over };
}

describe('dispatch: status codes pass unchanged', () => {
  beforeEach(async () => {
    upstream = await startHttpServer((req, res) => {
      const status = Number(req.url?.slice(1).split('?')[0]);
      if (status === 202) {
        res.writeHead(202).end();
      } else if (status === 405) {
        res.writeHead(405, { allow: 'POST, DELETE' }).end();
      } else {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: `status ${status}` }, id: null }));
      }
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
  });

  it.each([400, 404, 409, 500, 503])('passes %i with its JSON body', async (status) => {
    const res = await dispatcher!.request(request(`${upstream!.url}/${status}`, { method: 'POST', body: Readable.from(['{}']) }));
    expect(res.status).toBe(status);
    expect(JSON.parse((await readAll(res.body)).toString())).toEqual({
      jsonrpc: '2.0',
      error: { code: -32000, message: `status ${status}` },
      id: null,
    });
  });

  it('passes 202 with an empty body', async () => {
    const res = await dispatcher!.request(request(`${upstream!.url}/202`, { method: 'POST', body: Readable.from(['{}']) }));
    expect(res.status).toBe(202);
    expect((await readAll(res.body)).length).toBe(0);
  });

  it('passes 405 with its Allow header', async () => {
    const res = await dispatcher!.request(request(`${upstream!.url}/405`));
    expect(res.status).toBe(405);
    expect(res.headers).toContainEqual(['allow', 'POST, DELETE']);
    expect((await readAll(res.body)).length).toBe(0);
  });
});

describe('dispatch: header hygiene', () => {
  it('strips hop-by-hop, host, authorization and expect; keeps MCP and other end-to-end headers byte-exact and in order', async () => {
    let seen: HeaderList = [];
    let seenUrl = '';
    upstream = await startHttpServer((req, res) => {
      seen = fromNodeRawHeaders(req.rawHeaders);
      seenUrl = req.url ?? '';
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());

    const kept: HeaderList = [
      ['accept', 'application/json, text/event-stream'],
      ['content-type', 'application/json'],
      ['mcp-session-id', 'Sess-ABC_123'],
      ['mcp-protocol-version', '2025-06-18'],
      ['mcp-method', 'tools/call'],
      ['mcp-name', 'search'],
      ['mcp-param-query', 'caf\u00e9 "x"'],
      ['last-event-id', 'stream-1/42'],
      ['origin', 'https://app.example'],
      ['cookie', 'a=1; b=2'],
      ['x-repeated', 'one'],
      ['x-repeated', 'two'],
      ['user-agent', 'mcp-client/1.0'],
    ];
    const sent: HeaderList = [
      ['host', 'gateway.example'],
      ['authorization', 'Bearer gateway-token-SECRET'],
      ['connection', 'keep-alive, x-hop-only'],
      ['x-hop-only', 'dropme'],
      ['keep-alive', 'timeout=5'],
      ['proxy-authorization', 'Basic c2VjcmV0'],
      ['proxy-connection', 'keep-alive'],
      ['te', 'trailers'],
      ['trailer', 'x-checksum'],
      ['upgrade', 'websocket'],
      ['expect', '100-continue'],
      ['transfer-encoding', 'chunked'],
      ...kept,
    ];
    const res = await dispatcher.request(
      request(`${upstream.url}/mcp/../x/%2F?a=1&b=%20&&c`, { method: 'POST', headers: sent, body: Readable.from(['{"jsonrpc":"2.0"}']) }),
    );
    expect(res.status).toBe(200);
    await readAll(res.body);

    const names = seen.map(([n]) => n);
    for (const gone of ['authorization', 'x-hop-only', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect']) {
      expect(names).not.toContain(gone);
    }
    // undici's own framing headers, not the client's.
    expect(seen.filter(([n]) => n === 'host')).toEqual([['host', `127.0.0.1:${upstream.port}`]]);
    expect(seen.filter(([n]) => n === 'connection')).toEqual([['connection', 'keep-alive']]);
    const keptNames = new Set(kept.map(([n]) => n));
    expect(seen.filter(([n]) => keptNames.has(n))).toEqual(kept);
    expect(JSON.stringify(seen)).not.toContain('SECRET');
    expect(seenUrl).toBe('/mcp/../x/%2F?a=1&b=%20&&c');
  });

  it('returns response headers without hop-by-hop ones; repeated set-cookie stay separate pairs in order', async () => {
    upstream = await startHttpServer((_req, res) => {
      res.writeHead(200, [
        'Content-Type', 'application/json',
        'Set-Cookie', 'a=1; Path=/; HttpOnly',
        'Mcp-Session-Id', 'sess-1',
        'Keep-Alive', 'timeout=5',
        'Connection', 'x-hop-resp',
        'X-Hop-Resp', 'secret-hop',
        'Proxy-Authenticate', 'Basic',
        'Set-Cookie', 'b=2; Path=/',
        'WWW-Authenticate', 'Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource"',
        'Content-Length', '2',
      ]);
      res.end('{}');
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const res = await dispatcher.request(request(`${upstream.url}/mcp`));
    await readAll(res.body);
    const names = res.headers.map(([n]) => n);
    expect(names).not.toContain('keep-alive');
    expect(names).not.toContain('connection');
    expect(names).not.toContain('x-hop-resp');
    expect(names).not.toContain('proxy-authenticate');
    expect(res.headers.filter(([n]) => n !== 'date')).toEqual([
      ['content-type', 'application/json'],
      ['set-cookie', 'a=1; Path=/; HttpOnly'],
      ['mcp-session-id', 'sess-1'],
      ['set-cookie', 'b=2; Path=/'],
      ['www-authenticate', 'Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource"'],
      ['content-length', '2'],
    ]);
  });

  it('round-trips response headers to a client through toNodeHeaders (set-cookie repeats kept)', async () => {
    upstream = await startHttpServer((_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('mcp-session-id', 'sess-9');
      res.end('ok');
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const d = dispatcher;
    const up = upstream;
    // A minimal "gateway": relays the dispatcher's response to a real client.
    const front = http.createServer((_req, res) => {
      void d.request(request(`${up.url}/mcp`)).then((r) => {
        res.writeHead(r.status, toNodeHeaders(r.headers));
        r.body.pipe(res);
      });
    });
    front.listen(0, '127.0.0.1');
    await once(front, 'listening');
    extraClose.push(() => new Promise<void>((resolve) => front.close(() => resolve())));
    const port = (front.address() as AddressInfo).port;
    const clientRes = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent: false }, resolve).on('error', reject);
    });
    const raw = fromNodeRawHeaders(clientRes.rawHeaders);
    expect(raw.filter(([n]) => n === 'set-cookie')).toEqual([['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
    expect(raw).toContainEqual(['mcp-session-id', 'sess-9']);
    expect((await readAll(clientRes)).toString()).toBe('ok');
  });

  it('collapses identical repeated content-length values and sends the body', async () => {
    let body = '';
    upstream = await startHttpServer((req, res) => {
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => res.end(req.headers['content-length']));
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const res = await dispatcher.request(
      request(`${upstream.url}/mcp`, {
        method: 'POST',
        headers: [['content-length', '5'], ['content-length', '5, 5']],
        body: Readable.from([Buffer.from('hello')]),
      }),
    );
    expect((await readAll(res.body)).toString()).toBe('5');
    expect(body).toBe('hello');
  });
});
