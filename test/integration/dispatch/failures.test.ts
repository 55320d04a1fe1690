import { Readable } from 'node:stream';
import { silentLogger } from '../../../src/log';
import { Cancellation, createUpstreamDispatcher, type UpstreamDispatcher, type UpstreamRequest, UpstreamError } from '../../../src/dispatch';
import {
  deferred,
  freePort,
  nextChunk,
  readAll,
  startHttpServer,
  startSilentTcpServer,
  streamError,
  upstreamConfig,
  type TestServer,
} from './helpers';

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

async function rejection(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (err) {
    return err as UpstreamError;
  }
  throw new Error('expected a rejection');
}

describe('dispatch: transport failures', () => {
  it('connection refused -> TUNNEL_UPSTREAM_UNREACHABLE naming origin and ECONNREFUSED, retryable', async () => {
    const port = await freePort();
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const err = await rejection(dispatcher.request(request(`http://127.0.0.1:${port}/mcp?token=SECRET`)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(err.retryable).toBe(true);
    expect(err.server).toBe('files');
    expect(err.origin).toBe(`http://127.0.0.1:${port}`);
    expect(err.causeCode).toBe('ECONNREFUSED');
    expect(err.message).toContain(`http://127.0.0.1:${port}`);
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).not.toContain('SECRET');
  });

  it('connect timeout (TLS handshake never answered) -> TUNNEL_UPSTREAM_UNREACHABLE', async () => {
    upstream = await startSilentTcpServer();
    dispatcher = createUpstreamDispatcher(upstreamConfig({ connectTimeoutMs: 200 }), silentLogger());
    const err = await rejection(dispatcher.request(request(`https://127.0.0.1:${upstream.port}/mcp`)));
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(err.causeCode).toBe('UND_ERR_CONNECT_TIMEOUT');
    expect(err.retryable).toBe(true);
  });

  it('no response headers within headersTimeoutMs -> TUNNEL_UPSTREAM_TIMEOUT', async () => {
    upstream = await startHttpServer(() => undefined);
    dispatcher = createUpstreamDispatcher(upstreamConfig({ headersTimeoutMs: 200 }), silentLogger());
    const err = await rejection(dispatcher.request(request(`${upstream.url}/mcp`)));
    expect(err.code).toBe('TUNNEL_UPSTREAM_TIMEOUT');
    expect(err.causeCode).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(err.origin).toBe(upstream.url);
    expect(err.retryable).toBe(false);
  });

  it('upstream closes the socket before responding -> TUNNEL_UPSTREAM_RESET', async () => {
    upstream = await startHttpServer((req) => req.socket.destroy());
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const err = await rejection(dispatcher.request(request(`${upstream.url}/mcp`, { method: 'POST', body: Readable.from(['{}']) })));
    expect(err.code).toBe('TUNNEL_UPSTREAM_RESET');
    expect(err.retryable).toBe(false);
  });

  it('upstream destroys the socket mid-body -> the body stream errors with TUNNEL_UPSTREAM_RESET', async () => {
    const gotFirst = deferred();
    upstream = await startHttpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      void gotFirst.promise.then(() => req.socket.destroy());
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const res = await dispatcher.request(request(`${upstream.url}/mcp`));
    expect((await nextChunk(res.body)).toString()).toBe('data: one\n\n');
    gotFirst.resolve();
    const err = (await streamError(res.body)) as UpstreamError;
    expect(err.code).toBe('TUNNEL_UPSTREAM_RESET');
    expect(err.server).toBe('files');
    expect(err.origin).toBe(upstream.url);
  });

  it('response shorter than its content-length -> body errors with TUNNEL_UPSTREAM_RESET', async () => {
    upstream = await startHttpServer((req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('short', () => req.socket.destroy());
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const res = await dispatcher.request(request(`${upstream.url}/mcp`));
    const err = (await streamError(res.body)) as UpstreamError;
    expect(err.code).toBe('TUNNEL_UPSTREAM_RESET');
  });
});

/** Both kinds of signal the dispatcher takes: an AbortController's, and the proxy's Cancellation (D76). */
type MakeSignal = () => { signal: AbortSignal | Cancellation; abort(): void };
const abortSignal: MakeSignal = () => {
  const c = new AbortController();
  return { signal: c.signal, abort: () => c.abort() };
};
const cancellation: MakeSignal = () => {
  const c = new Cancellation();
  return { signal: c, abort: () => c.abort() };
};
const SIGNALS: Array<[string, MakeSignal]> = [
  ['AbortSignal', abortSignal],
  ['Cancellation', cancellation],
];

describe.each(SIGNALS)('dispatch: cancellation (%s)', (_kind, makeSignal) => {
  it('abort while waiting for headers -> TUNNEL_UPSTREAM_ABORTED and the upstream sees the close', async () => {
    const arrived = deferred();
    const upstreamSawClose = deferred();
    upstream = await startHttpServer((_req, res) => {
      res.on('close', () => upstreamSawClose.resolve());
      arrived.resolve();
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const controller = makeSignal();
    const pending = rejection(dispatcher.request(request(`${upstream.url}/mcp`, { signal: controller.signal })));
    await arrived.promise;
    controller.abort();
    const err = await pending;
    expect(err.code).toBe('TUNNEL_UPSTREAM_ABORTED');
    expect(err.server).toBe('files');
    await upstreamSawClose.promise;
  });

  it('abort while streaming the body -> body errors with TUNNEL_UPSTREAM_ABORTED and the upstream sees the close', async () => {
    const upstreamSawClose = deferred();
    upstream = await startHttpServer((_req, res) => {
      res.on('close', () => upstreamSawClose.resolve());
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const controller = makeSignal();
    const res = await dispatcher.request(request(`${upstream.url}/mcp`, { signal: controller.signal }));
    expect((await nextChunk(res.body)).toString()).toBe('data: first\n\n');
    const failed = streamError(res.body);
    controller.abort();
    const err = (await failed) as UpstreamError;
    expect(err.code).toBe('TUNNEL_UPSTREAM_ABORTED');
    await upstreamSawClose.promise;
  });

});

describe('dispatch: cancellation', () => {
  it('destroying the response body releases the upstream request', async () => {
    const upstreamSawClose = deferred();
    upstream = await startHttpServer((_req, res) => {
      res.on('close', () => upstreamSawClose.resolve());
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const res = await dispatcher.request(request(`${upstream.url}/mcp`));
    await nextChunk(res.body);
    res.body.destroy();
    await upstreamSawClose.promise;
  });

  it('an already aborted signal rejects at once and destroys the request body', async () => {
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const controller = new AbortController();
    controller.abort();
    const body = Readable.from(['x']);
    const err = await rejection(dispatcher.request(request('http://127.0.0.1:9/mcp', { signal: controller.signal, body })));
    expect(err.code).toBe('TUNNEL_UPSTREAM_ABORTED');
    expect(body.destroyed).toBe(true);
  });

  it('the request body stream failing -> TUNNEL_UPSTREAM_BAD_REQUEST and the upstream sees the close', async () => {
    const upstreamSawClose = deferred();
    const gotFirst = deferred();
    upstream = await startHttpServer((req, res) => {
      res.on('close', () => upstreamSawClose.resolve());
      req.once('data', () => gotFirst.resolve());
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const body = new Readable({ read: () => undefined });
    body.push('partial');
    const pending = rejection(dispatcher.request(request(`${upstream.url}/mcp`, { method: 'POST', body })));
    await gotFirst.promise;
    body.destroy(Object.assign(new Error('tunnel stream reset'), { code: 'TUNNEL_STREAM_RESET' }));
    const err = await pending;
    expect(err.code).toBe('TUNNEL_UPSTREAM_BAD_REQUEST');
    expect(err.causeCode).toBe('TUNNEL_STREAM_RESET');
    await upstreamSawClose.promise;
  });

  it('a body shorter than its content-length -> TUNNEL_UPSTREAM_BAD_REQUEST', async () => {
    upstream = await startHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.end());
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const err = await rejection(
      dispatcher.request(
        request(`${upstream.url}/mcp`, { method: 'POST', headers: [['content-length', '10']], body: Readable.from([Buffer.from('12345')]) }),
      ),
    );
    expect(err.code).toBe('TUNNEL_UPSTREAM_BAD_REQUEST');
    expect(err.causeCode).toBe('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH');
  });
});

describe('dispatch: requests that cannot be sent', () => {
  beforeEach(() => {
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
  });

  it.each(['ftp://127.0.0.1/x', 'not a url', '/relative', 'http://user:pw@127.0.0.1/mcp'])(
    'rejects %s with TUNNEL_UPSTREAM_BAD_URL and destroys the body',
    async (url) => {
      const body = Readable.from(['x']);
      const err = await rejection(dispatcher!.request(request(url, { body })));
      expect(err.code).toBe('TUNNEL_UPSTREAM_BAD_URL');
      expect(err.server).toBe('files');
      expect(err.message).not.toContain('pw');
      expect(body.destroyed).toBe(true);
    },
  );

  it('conflicting content-length values -> TUNNEL_UPSTREAM_BAD_REQUEST', async () => {
    const err = await rejection(
      dispatcher!.request(request('http://127.0.0.1:9/mcp', { method: 'POST', headers: [['content-length', '5'], ['content-length', '6']] })),
    );
    expect(err.code).toBe('TUNNEL_UPSTREAM_BAD_REQUEST');
  });

  it('an invalid method -> TUNNEL_UPSTREAM_BAD_REQUEST', async () => {
    const err = await rejection(dispatcher!.request(request('http://127.0.0.1:9/mcp', { method: 'GET /x' })));
    expect(err.code).toBe('TUNNEL_UPSTREAM_BAD_REQUEST');
  });
});

describe('dispatch: close()', () => {
  it('destroys requests still streaming after the grace period; their bodies error with TUNNEL_UPSTREAM_CLOSED', async () => {
    const upstreamSawClose = deferred();
    upstream = await startHttpServer((_req, res) => {
      res.on('close', () => upstreamSawClose.resolve());
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger(), { closeGraceMs: 100 });
    const res = await dispatcher.request(request(`${upstream.url}/mcp`));
    await nextChunk(res.body);
    const failed = streamError(res.body);
    await dispatcher.close();
    const err = (await failed) as UpstreamError;
    expect(err.code).toBe('TUNNEL_UPSTREAM_CLOSED');
    await upstreamSawClose.promise;
  });

  it('lets a request in flight finish within the grace period', async () => {
    const release = deferred();
    const arrived = deferred();
    upstream = await startHttpServer((_req, res) => {
      arrived.resolve();
      void release.promise.then(() => res.end('done'));
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger(), { closeGraceMs: 30_000 });
    const pending = dispatcher.request(request(`${upstream.url}/mcp`));
    await arrived.promise;
    const closed = dispatcher.close();
    release.resolve();
    const res = await pending;
    expect((await readAll(res.body)).toString()).toBe('done');
    await closed;
  });

  it('rejects requests after close with a retryable TUNNEL_UPSTREAM_CLOSED', async () => {
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    await dispatcher.close();
    await dispatcher.close();
    const err = await rejection(dispatcher.request(request('http://127.0.0.1:9/mcp')));
    expect(err.code).toBe('TUNNEL_UPSTREAM_CLOSED');
    expect(err.retryable).toBe(true);
  });
});
