import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ProxyConfig, UpstreamTlsConfig } from '../../../src/config/types';

export type UpstreamConfig = ProxyConfig['upstream'];

export function noTls(over: Partial<UpstreamTlsConfig> = {}): UpstreamTlsConfig {
  return { cert: null, key: null, ca: null, rejectUnauthorized: true, servername: null, ...over };
}

export function upstreamConfig(over: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return {
    tls: noTls(),
    servers: {},
    headersTimeoutMs: 30_000,
    connectTimeoutMs: 10_000,
    connectionsPerOrigin: 4,
    allow: [],
    ...over,
  };
}

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A loopback upstream on port 0 that counts TCP connections and can be torn down hard. */
export interface TestServer {
  server: http.Server | https.Server | net.Server;
  port: number;
  /** `http://127.0.0.1:PORT` (or https). */
  url: string;
  /** TCP connections accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

async function listen(server: net.Server, scheme: string): Promise<TestServer> {
  let count = 0;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    count++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      if (!server.listening) return;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function startHttpServer(handler: http.RequestListener): Promise<TestServer> {
  return listen(http.createServer(handler), 'http');
}

export function startHttpsServer(options: https.ServerOptions, handler: http.RequestListener): Promise<TestServer> {
  return listen(https.createServer(options, handler), 'https');
}

/** A TCP server that accepts connections and never says anything. */
export function startSilentTcpServer(): Promise<TestServer> {
  return listen(net.createServer(() => undefined), 'https');
}

/** A port that was just free: bind, read it, close. Connecting to it is refused. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Resolves with the next chunk; leaves the stream paused so nothing more is consumed. */
export function nextChunk(stream: Readable): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('end', onEnd);
    };
    const onData = (chunk: Buffer): void => {
      cleanup();
      stream.pause();
      resolve(chunk);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error('stream ended'));
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.once('end', onEnd);
    stream.resume();
  });
}

/** Reads chunks until the accumulated text contains `marker`; returns the text read. */
export async function readUntil(stream: Readable, marker: string): Promise<string> {
  let text = '';
  while (!text.includes(marker)) {
    text += (await nextChunk(stream)).toString('latin1');
  }
  return text;
}

/** Resolves with the error the stream fails with; rejects if it ends cleanly. */
export function streamError(stream: Readable): Promise<Error> {
  return new Promise<Error>((resolve, reject) => {
    stream.once('error', resolve);
    stream.once('end', () => reject(new Error('stream ended without error')));
    stream.resume();
  });
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A throwaway PKI made with /usr/bin/openssl: CA, server cert (127.0.0.1 / localhost), client cert. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second, unrelated CA (its client cert is not trusted by the server). */
  otherCaCert: string;
  otherClientCert: string;
  otherClientKey: string;
  cleanup(): void;
}

export function createTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-pki-'));
  const p = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('/usr/bin/openssl', args, { stdio: 'pipe' });
  };
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string, cn: string): void => {
    openssl('req', '-x509', ...ecKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.crt`), '-days', '2', '-subj', `/CN=${cn}`);
  };
  const leaf = (name: string, caName: string, cn: string, ext: string): void => {
    openssl('req', ...ecKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`);
    writeFileSync(p(`${name}.ext`), ext);
    openssl(
      'x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${caName}.crt`), '-CAkey', p(`${caName}.key`),
      '-CAcreateserial', '-out', p(`${name}.crt`), '-days', '2', '-extfile', p(`${name}.ext`),
    );
  };
  ca('ca', 'mcp-tunnel test CA');
  ca('other-ca', 'unrelated CA');
  leaf('server', 'ca', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'mcp-proxy', 'extendedKeyUsage=clientAuth\n');
  leaf('other-client', 'other-ca', 'intruder', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    otherCaCert: p('other-ca.crt'),
    otherClientCert: p('other-client.crt'),
    otherClientKey: p('other-client.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
