import { Readable } from 'node:stream';
import { silentLogger } from '../../../src/log';
import { createUpstreamDispatcher, type UpstreamDispatcher, type UpstreamRequest } from '../../../src/dispatch';
import { deferred, readAll, startHttpServer, upstreamConfig, type TestServer } from './helpers';
import { waitFor } from '../../helpers';

let upstream: TestServer | undefined;
let dispatcher: UpstreamDispatcher | undefined;

afterEach(async () => {
  await dispatcher?.close();
  await upstream?.close();
  dispatcher = undefined;
  upstream = undefined;
});

function request(url: string, over: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return { rid: 'r1', server: 'files', url, method: 'GET', headers: [], body: null, signal: new AbortController().signal, ...over };
}

describe('dispatch: connection pooling', () => {
  it('sequential requests reuse one keep-alive connection per pool (GET streams have their own)', async () => {
    upstream = await startHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.end(`ok ${req.method}`));
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    for (let i = 0; i < 6; i++) {
      const post = i % 2 === 1;
      const res = await dispatcher.request(
        request(`${upstream.url}/mcp`, post ? { method: 'POST', body: Readable.from(['{"i":1}']) } : {}),
      );
      expect((await readAll(res.body)).toString()).toBe(post ? 'ok POST' : 'ok GET');
      // undici hands a socket back to the pool one event-loop turn after the response completed
      // (client-h1 onMessageComplete: setImmediate(resume)); a request issued in the very same turn
      // would get a second pooled connection. Real traffic is never that tight.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // One for the POSTs (request pool), one for the GETs (stream pool).
    expect(upstream.connections()).toBe(2);
  });

  it('opens at most connectionsPerOrigin connections for concurrent requests', async () => {
    const held: Array<() => void> = [];
    let released = false;
    const twoArrived = deferred();
    upstream = await startHttpServer((_req, res) => {
      if (released) {
        res.end('ok');
        return;
      }
      held.push(() => res.end('ok'));
      if (held.length === 2) twoArrived.resolve();
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig({ connectionsPerOrigin: 2 }), silentLogger());
    const d = dispatcher;
    const url = `${upstream.url}/mcp`;
    const pending = [0, 1, 2, 3].map(() => d.request(request(url, { method: 'POST' })).then((r) => readAll(r.body)));
    await twoArrived.promise;
    expect(upstream.connections()).toBe(2);
    // The other two wait in undici's queue and then ride on the same two sockets.
    released = true;
    for (const answer of held) answer();
    expect((await Promise.all(pending)).map((b) => b.toString())).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(upstream.connections()).toBe(2);
  });

  it('regression (issue 8 defect 12): held GET streams never take the connections requests need', async () => {
    const streams: Array<() => void> = [];
    upstream = await startHttpServer((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': open\n\n');
        streams.push(() => res.end());
        return;
      }
      req.resume();
      req.on('end', () => res.end('ok POST'));
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig({ connectionsPerOrigin: 2, streamConnectionsPerOrigin: 8 }), silentLogger());
    const d = dispatcher;
    const url = `${upstream.url}/mcp`;
    // More idle streams than the request pool has connections.
    const open = await Promise.all([0, 1, 2, 3, 4].map(() => d.request(request(url))));
    expect(open.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    const post = await d.request(request(url, { method: 'POST', body: Buffer.from('{}') }));
    expect((await readAll(post.body)).toString()).toBe('ok POST');
    expect(upstream.connections()).toBe(6);
    for (const end of streams) end();
    await Promise.all(open.map((r) => readAll(r.body)));
  });

  it('the stream pool has its own ceiling (upstream.streamConnectionsPerOrigin)', async () => {
    const streams: Array<() => void> = [];
    const twoArrived = deferred();
    upstream = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
      streams.push(() => res.end());
      if (streams.length === 2) twoArrived.resolve();
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig({ connectionsPerOrigin: 8, streamConnectionsPerOrigin: 2 }), silentLogger());
    const d = dispatcher;
    const url = `${upstream.url}/mcp`;
    const pending = [0, 1, 2].map(() => d.request(request(url)));
    await twoArrived.promise;
    expect(upstream.connections()).toBe(2);
    streams.shift()?.();
    const all = await Promise.all(pending);
    await waitFor(() => streams.length === 2);
    for (const end of streams) end();
    await Promise.all(all.map((r) => readAll(r.body)));
    expect(upstream.connections()).toBe(2);
  });
});
