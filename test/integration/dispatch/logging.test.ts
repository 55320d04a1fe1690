import { Writable } from 'node:stream';
import { Readable } from 'node:stream';
import { createLogger } from '../../../src/log';
import { createUpstreamDispatcher, type UpstreamDispatcher } from '../../../src/dispatch';
import { freePort, readAll, startHttpServer, upstreamConfig, type TestServer } from './helpers';

let upstream: TestServer | undefined;
let dispatcher: UpstreamDispatcher | undefined;

afterEach(async () => {
  await dispatcher?.close();
  await upstream?.close();
  dispatcher = undefined;
  upstream = undefined;
});

function capture(): { lines: () => Array<Record<string, unknown>>; text: () => string; destination: Writable } {
  let buf = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString();
      cb();
    },
  });
  return {
    destination,
    text: () => buf,
    lines: () =>
      buf
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('dispatch: logging', () => {
  it('logs with component "dispatch" and fixed field names, never credentials, cookies or query strings', async () => {
    upstream = await startHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(404, { 'set-cookie': 'sid=COOKIE-FROM-UPSTREAM' }).end());
    });
    const out = capture();
    const logger = createLogger({ level: 'trace', destination: out.destination });
    dispatcher = createUpstreamDispatcher(upstreamConfig(), logger);
    const res = await dispatcher.request({
      rid: 'req-42',
      server: 'files',
      url: `${upstream.url}/mcp?api_key=QUERY-SECRET`,
      method: 'POST',
      headers: [
        ['authorization', 'Bearer TOKEN-SECRET'],
        ['cookie', 'sid=COOKIE-SECRET'],
      ],
      body: Readable.from(['{}']),
      signal: new AbortController().signal,
    });
    await readAll(res.body);
    const port = await freePort();
    await dispatcher
      .request({ rid: 'req-43', server: 'files', url: `http://127.0.0.1:${port}/x?t=QUERY-SECRET`, method: 'GET', headers: [['authorization', 'Bearer TOKEN-SECRET']], body: null, signal: new AbortController().signal })
      .catch(() => undefined);

    const text = out.text();
    for (const secret of ['TOKEN-SECRET', 'COOKIE-SECRET', 'QUERY-SECRET', 'COOKIE-FROM-UPSTREAM']) {
      expect(text).not.toContain(secret);
    }
    const lines = out.lines();
    expect(lines.every((l) => l.component === 'dispatch')).toBe(true);
    expect(lines).toContainEqual(
      expect.objectContaining({ rid: 'req-42', server: 'files', method: 'POST', status: 404, url: `${upstream.url}/mcp` }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({ rid: 'req-43', code: 'TUNNEL_UPSTREAM_UNREACHABLE', url: `http://127.0.0.1:${port}/x` }),
    );
  });
});
