import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { silentLogger } from '../../../src/log';
import { createUpstreamDispatcher, type UpstreamDispatcher } from '../../../src/dispatch';
import { deferred, nextChunk, readAll, readUntil, startHttpServer, upstreamConfig, type TestServer } from './helpers';

const MB = 1024 * 1024;
const TOTAL = 20 * MB;
const CHUNK = 64 * 1024;

let upstream: TestServer | undefined;
let dispatcher: UpstreamDispatcher | undefined;

afterEach(async () => {
  await dispatcher?.close();
  await upstream?.close();
  dispatcher = undefined;
  upstream = undefined;
});

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

function request(url: string, over: Partial<Parameters<UpstreamDispatcher['request']>[0]> = {}) {
  return {
    rid: 'r1',
    server: 'files',
    url,
    method: 'GET',
    headers: [] as Array<[string, string]>,
    body: null,
    signal: new AbortController().signal,
    ...over,
  };
}

describe('dispatch: streaming bodies', () => {
  it('streams a 20 MB download; the first chunk arrives before the upstream finished writing', async () => {
    const payload = randomBytes(TOTAL);
    const proceed = deferred();
    let upstreamFinished = false;
    upstream = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(TOTAL) });
      res.write(payload.subarray(0, CHUNK));
      void proceed.promise.then(() => {
        res.end(payload.subarray(CHUNK), () => {
          upstreamFinished = true;
        });
      });
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());

    const res = await dispatcher.request(request(`${upstream.url}/download`));
    expect(res.status).toBe(200);
    const first = await nextChunk(res.body);
    expect(first.length).toBeGreaterThan(0);
    expect(upstreamFinished).toBe(false);
    proceed.resolve();
    const rest = await readAll(res.body);
    const got = Buffer.concat([first, rest]);
    expect(got.length).toBe(TOTAL);
    expect(sha256(got)).toBe(sha256(payload));
  });

  it('streams a 20 MB upload echoed back; the upstream sees the first chunk before the client finished sending', async () => {
    const payload = randomBytes(TOTAL);
    const upstreamGotFirst = deferred();
    const upstreamHash = createHash('sha256');
    const upstreamDone = deferred<string>();
    let clientFinished = false;
    upstream = await startHttpServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.once('data', () => upstreamGotFirst.resolve());
      req.on('data', (chunk: Buffer) => upstreamHash.update(chunk));
      req.on('end', () => upstreamDone.resolve(upstreamHash.digest('hex')));
      req.pipe(res);
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());

    async function* produce(): AsyncGenerator<Buffer> {
      yield payload.subarray(0, CHUNK);
      await upstreamGotFirst.promise;
      // Not clientFinished yet: the upstream already has bytes while we still hold most of them.
      expect(clientFinished).toBe(false);
      for (let off = CHUNK; off < TOTAL; off += CHUNK) yield payload.subarray(off, off + CHUNK);
      clientFinished = true;
    }
    const body = Readable.from(produce(), { objectMode: false });

    const res = await dispatcher.request(
      request(`${upstream.url}/echo`, {
        method: 'POST',
        headers: [['content-type', 'application/octet-stream'], ['content-length', String(TOTAL)]],
        body,
      }),
    );
    expect(res.status).toBe(200);
    const echoed = await readAll(res.body);
    expect(clientFinished).toBe(true);
    expect(echoed.length).toBe(TOTAL);
    expect(sha256(echoed)).toBe(sha256(payload));
    expect(await upstreamDone.promise).toBe(sha256(payload));
  });

  it('streams an upload without content-length (chunked) byte for byte', async () => {
    const payload = randomBytes(3 * MB + 17);
    upstream = await startHttpServer((req, res) => {
      const h = createHash('sha256');
      req.on('data', (c: Buffer) => h.update(c));
      req.on('end', () => res.end(JSON.stringify({ te: req.headers['transfer-encoding'] ?? null, sha: h.digest('hex') })));
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const res = await dispatcher.request(
      request(`${upstream.url}/up`, { method: 'POST', body: Readable.from([payload.subarray(0, MB), payload.subarray(MB)]) }),
    );
    const result = JSON.parse((await readAll(res.body)).toString()) as { te: string | null; sha: string };
    expect(result).toEqual({ te: 'chunked', sha: sha256(payload) });
  });

  it('delivers SSE events one by one: each event is read before the upstream writes the next', async () => {
    const events = [
      ': keep-alive comment\n\n',
      'id: 0\ndata:\n\n',
      'retry: 1500\n\n',
      'id: 1\nevent: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n',
      'id: 2\nevent: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n',
    ];
    const gates = events.map(() => deferred());
    const written: string[] = [];
    upstream = await startHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      void (async () => {
        for (let i = 0; i < events.length; i++) {
          await gates[i]!.promise;
          written.push(events[i]!);
          res.write(events[i]);
        }
        res.end();
      })();
    });
    dispatcher = createUpstreamDispatcher(upstreamConfig({ headersTimeoutMs: 5_000 }), silentLogger());

    const res = await dispatcher.request(
      request(`${upstream.url}/mcp`, { headers: [['accept', 'text/event-stream']] }),
    );
    expect(res.status).toBe(200);
    expect(res.headers).toContainEqual(['content-type', 'text/event-stream']);
    for (let i = 0; i < events.length; i++) {
      gates[i]!.resolve();
      const text = await readUntil(res.body, '\n\n');
      expect(text).toBe(events[i]);
      // The next event has not been written: what we read was flushed through, not buffered.
      expect(written.length).toBe(i + 1);
    }
    expect((await readAll(res.body)).length).toBe(0);
  });
});
