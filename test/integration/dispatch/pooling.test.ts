import { Readable } from 'node:stream';
import { silentLogger } from '../../../src/log';
import { createUpstreamDispatcher, type UpstreamDispatcher, type UpstreamRequest } from '../../../src/dispatch';
import { deferred, readAll, startHttpServer, upstreamConfig, type TestServer } from './helpers';

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
  it('sequential requests reuse one keep-alive connection', async () => {
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
    expect(upstream.connections()).toBe(1);
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
    const pending = [0, 1, 2, 3].map(() => d.request(request(url)).then((r) => readAll(r.body)));
    await twoArrived.promise;
    expect(upstream.connections()).toBe(2);
    // The other two wait in undici's queue and then ride on the same two sockets.
    released = true;
    for (const answer of held) answer();
    expect((await Promise.all(pending)).map((b) => b.toString())).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(upstream.connections()).toBe(2);
  });
});
