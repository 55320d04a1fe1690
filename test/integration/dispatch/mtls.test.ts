import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { silentLogger } from '../../../src/log';
import { createUpstreamDispatcher, type UpstreamDispatcher, type UpstreamRequest, UpstreamError } from '../../../src/dispatch';
import { createTestPki, noTls, readAll, startHttpsServer, upstreamConfig, type TestPki, type TestServer } from './helpers';

let pki: TestPki | undefined;
let upstream: TestServer | undefined;
let dispatcher: UpstreamDispatcher | undefined;

beforeAll(() => {
  pki = createTestPki();
});

afterAll(() => {
  pki?.cleanup();
});

beforeEach(async () => {
  upstream = await startHttpsServer(
    {
      key: readFileSync(pki!.serverKey),
      cert: readFileSync(pki!.serverCert),
      ca: readFileSync(pki!.caCert),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.end(`hello ${String(peer.subject?.CN)}`);
    },
  );
});

afterEach(async () => {
  await dispatcher?.close();
  await upstream?.close();
  dispatcher = undefined;
  upstream = undefined;
});

function request(server: string, url = `${upstream!.url}/mcp`): UpstreamRequest {
  return { rid: 'r1', server, url, method: 'GET', headers: [], body: null, signal: new AbortController().signal };
}

async function rejection(p: Promise<unknown>): Promise<UpstreamError> {
  try {
    await p;
  } catch (err) {
    return err as UpstreamError;
  }
  throw new Error('expected a rejection');
}

const clientTls = () => noTls({ cert: pki!.clientCert, key: pki!.clientKey, ca: pki!.caCert });

describe('dispatch: upstream TLS and mTLS', () => {
  it('global TLS config: client certificate presented, private CA trusted', async () => {
    dispatcher = createUpstreamDispatcher(upstreamConfig({ tls: clientTls() }), silentLogger());
    const res = await dispatcher.request(request('files'));
    expect(res.status).toBe(200);
    expect((await readAll(res.body)).toString()).toBe('hello mcp-proxy');
    // Host-name verification against the DNS SAN.
    const res2 = await dispatcher.request(request('files', `https://localhost:${upstream!.port}/mcp`));
    expect((await readAll(res2.body)).toString()).toBe('hello mcp-proxy');
  });

  it('per-server override: only the server with the override presents a client certificate', async () => {
    dispatcher = createUpstreamDispatcher(
      upstreamConfig({ tls: noTls({ ca: pki!.caCert }), servers: { secure: { tls: clientTls() } } }),
      silentLogger(),
    );
    const res = await dispatcher.request(request('secure'));
    expect((await readAll(res.body)).toString()).toBe('hello mcp-proxy');

    const err = await rejection(dispatcher.request(request('plain')));
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(err.server).toBe('plain');
  });

  it('servers with the same TLS config share one agent and its pooled connection', async () => {
    dispatcher = createUpstreamDispatcher(
      upstreamConfig({ tls: clientTls(), servers: { a: { tls: clientTls() }, b: { tls: clientTls() } } }),
      silentLogger(),
    );
    for (const server of ['a', 'b', 'unlisted']) {
      const res = await dispatcher.request(request(server));
      await readAll(res.body);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(upstream!.connections()).toBe(1);
  });

  it('missing client certificate -> TUNNEL_UPSTREAM_UNREACHABLE (TLS 1.3 alert, not a reset)', async () => {
    dispatcher = createUpstreamDispatcher(upstreamConfig({ tls: noTls({ ca: pki!.caCert }) }), silentLogger());
    const err = await rejection(dispatcher.request(request('files')));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(err.causeCode).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect(err.retryable).toBe(true);
    expect(err.origin).toBe(upstream!.url);
    expect(err.message).toContain(upstream!.url);
    expect(err.message).toContain('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
  });

  it('an accepted TLS connection that closes before the response is a reset, not unreachable', async () => {
    await upstream!.close();
    upstream = await startHttpsServer(
      { key: readFileSync(pki!.serverKey), cert: readFileSync(pki!.serverCert), ca: readFileSync(pki!.caCert), requestCert: true, rejectUnauthorized: true },
      (req) => req.socket.destroy(),
    );
    dispatcher = createUpstreamDispatcher(upstreamConfig({ tls: clientTls() }), silentLogger());
    const err = await rejection(dispatcher.request(request('files')));
    expect(err.code).toBe('TUNNEL_UPSTREAM_RESET');
    expect(err.retryable).toBe(false);
  });

  it('client certificate from an untrusted CA -> rejected; UNREACHABLE only when the server sends a TLS alert', async () => {
    dispatcher = createUpstreamDispatcher(
      upstreamConfig({ tls: noTls({ cert: pki!.otherClientCert, key: pki!.otherClientKey, ca: pki!.caCert }) }),
      silentLogger(),
    );
    const err = await rejection(dispatcher.request(request('files')));
    // Node's HTTPS server (our test upstream) verifies the chain in JavaScript after the TLS 1.3
    // handshake and closes without an alert, which looks exactly like "accepted, then closed before
    // responding" (see the test above). OpenSSL/Go/BoringSSL servers send unknown_ca -> UNREACHABLE.
    expect(['TUNNEL_UPSTREAM_RESET', 'TUNNEL_UPSTREAM_UNREACHABLE']).toContain(err.code);
    expect(err.origin).toBe(upstream!.url);
  });

  it('server certificate not trusted (system CAs only) -> TUNNEL_UPSTREAM_UNREACHABLE', async () => {
    dispatcher = createUpstreamDispatcher(
      upstreamConfig({ tls: noTls({ cert: pki!.clientCert, key: pki!.clientKey }) }),
      silentLogger(),
    );
    const err = await rejection(dispatcher.request(request('files')));
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']).toContain(
      err.causeCode,
    );
  });

  it('ca replaces the system CAs: the wrong private CA fails', async () => {
    dispatcher = createUpstreamDispatcher(
      upstreamConfig({ tls: noTls({ cert: pki!.clientCert, key: pki!.clientKey, ca: pki!.otherCaCert }) }),
      silentLogger(),
    );
    const err = await rejection(dispatcher.request(request('files')));
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
  });

  it('servername overrides the name the certificate is checked against', async () => {
    dispatcher = createUpstreamDispatcher(
      upstreamConfig({
        tls: { ...clientTls(), servername: 'localhost' },
        servers: { wrong: { tls: { ...clientTls(), servername: 'wrong.invalid' } } },
      }),
      silentLogger(),
    );
    const res = await dispatcher.request(request('files'));
    expect((await readAll(res.body)).toString()).toBe('hello mcp-proxy');
    const err = await rejection(dispatcher.request(request('wrong')));
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(err.causeCode).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('rejectUnauthorized false skips server certificate verification', async () => {
    dispatcher = createUpstreamDispatcher(
      upstreamConfig({ tls: noTls({ cert: pki!.clientCert, key: pki!.clientKey, rejectUnauthorized: false }) }),
      silentLogger(),
    );
    const res = await dispatcher.request(request('files'));
    expect((await readAll(res.body)).toString()).toBe('hello mcp-proxy');
  });

  it('unreadable TLS material fails at creation with TUNNEL_UPSTREAM_TLS_CONFIG', () => {
    const missing = `${pki!.dir}/does-not-exist.pem`;
    expect(() => createUpstreamDispatcher(upstreamConfig({ tls: noTls({ ca: missing }) }), silentLogger())).toThrow(
      expect.objectContaining({ code: 'TUNNEL_UPSTREAM_TLS_CONFIG', server: '*', causeCode: 'ENOENT' }),
    );
    expect(() =>
      createUpstreamDispatcher(
        upstreamConfig({ servers: { s1: { tls: noTls({ cert: pki!.clientCert }) } } }),
        silentLogger(),
      ),
    ).toThrow(expect.objectContaining({ code: 'TUNNEL_UPSTREAM_TLS_CONFIG', server: 's1' }));
  });
});

describe('dispatch: mTLS against an OpenSSL server (rejects at the TLS layer, with alerts)', () => {
  let sServer: ChildProcessWithoutNullStreams | undefined;
  let sUrl = '';

  beforeEach(async () => {
    // The suite-level beforeEach started a Node upstream; this block talks to `openssl s_server` instead.
    sServer = spawn('/usr/bin/openssl', [
      's_server', '-accept', '127.0.0.1:0', '-cert', pki!.serverCert, '-key', pki!.serverKey,
      '-CAfile', pki!.caCert, '-Verify', '1', '-verify_return_error', '-www',
    ]);
    const server = sServer;
    let out = '';
    sUrl = await new Promise<string>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        out += chunk.toString();
        const m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(out);
        if (m !== null) {
          server.stdout.off('data', onData);
          server.stdout.resume();
          server.stderr.resume();
          resolve(`https://127.0.0.1:${m[1]}`);
        }
      };
      server.stdout.on('data', onData);
      server.once('exit', (code) => reject(new Error(`s_server exited ${String(code)}: ${out}`)));
    });
  });

  afterEach(async () => {
    const server = sServer;
    sServer = undefined;
    if (server !== undefined && server.exitCode === null) {
      const exited = once(server, 'exit');
      server.kill();
      await exited;
    }
  });

  it('accepts the trusted client certificate', async () => {
    dispatcher = createUpstreamDispatcher(upstreamConfig({ tls: clientTls() }), silentLogger());
    const res = await dispatcher.request(request('files', `${sUrl}/`));
    expect(res.status).toBe(200);
    await readAll(res.body);
  });

  it('client certificate from an untrusted CA -> UNREACHABLE with the TLS alert as cause', async () => {
    dispatcher = createUpstreamDispatcher(
      upstreamConfig({ tls: noTls({ cert: pki!.otherClientCert, key: pki!.otherClientKey, ca: pki!.caCert }) }),
      silentLogger(),
    );
    const err = await rejection(dispatcher.request(request('files', `${sUrl}/`)));
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(err.causeCode).toMatch(/^ERR_SSL_.*ALERT/);
  });

  it('missing client certificate -> UNREACHABLE', async () => {
    dispatcher = createUpstreamDispatcher(upstreamConfig({ tls: noTls({ ca: pki!.caCert }) }), silentLogger());
    const err = await rejection(dispatcher.request(request('files', `${sUrl}/`)));
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(err.causeCode).toMatch(/^ERR_SSL_.*ALERT/);
  });
});
