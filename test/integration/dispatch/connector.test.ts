import net from 'node:net';
import { silentLogger } from '../../../src/log';
import { createUpstreamDispatcher, type UpstreamDispatcher } from '../../../src/dispatch';
import { TCP_KEEPALIVE_INITIAL_DELAY_MS } from '../../../src/dispatch/connector';
import { readAll, startHttpServer, upstreamConfig, type TestServer } from './helpers';

let upstream: TestServer | undefined;
let dispatcher: UpstreamDispatcher | undefined;

afterEach(async () => {
  jest.restoreAllMocks();
  await dispatcher?.close();
  await upstream?.close();
  dispatcher = undefined;
  upstream = undefined;
});

describe('dispatch: upstream socket options', () => {
  it('sets TCP_NODELAY and TCP keep-alive on the upstream socket', async () => {
    upstream = await startHttpServer((_req, res) => res.end('ok'));
    const noDelay = jest.spyOn(net.Socket.prototype, 'setNoDelay');
    const keepAlive = jest.spyOn(net.Socket.prototype, 'setKeepAlive');
    dispatcher = createUpstreamDispatcher(upstreamConfig(), silentLogger());
    const res = await dispatcher.request({
      rid: 'r',
      server: 's',
      url: `${upstream.url}/`,
      method: 'GET',
      headers: [],
      body: null,
      signal: new AbortController().signal,
    });
    await readAll(res.body);
    // The server side of the socket pair does not call these; every call here is the client's.
    expect(noDelay.mock.calls.length).toBeGreaterThan(0);
    expect(noDelay.mock.calls.every(([on]) => on === true)).toBe(true);
    expect(keepAlive).toHaveBeenCalledWith(true, TCP_KEEPALIVE_INITIAL_DELAY_MS);
  });
});
