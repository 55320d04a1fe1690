/**
 * The gateway's listening socket: an HTTP or HTTPS server tuned for long-lived streams, listening,
 * its public URL, and certificate renewal without a restart. Routing is the caller's
 * (`request-router.ts`); this file owns only the server and its TLS.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TunnelError, describeError } from '../errors';
import { F, type Logger } from '../log';
import { describeCertificate, loadTlsPair, warnIfExpiring, watchTlsFiles, type TlsFiles, type TlsPair, type TlsReloader } from './tls-reload';

/** The handlers a listener dispatches to. */
export interface ListenerHandlers {
  request: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** A server that is listening. */
export interface Listener {
  readonly server: http.Server;
  /** Base URL, e.g. `http://127.0.0.1:8080` (IPv6 in brackets). */
  readonly url: string;
  readonly port: number;
  /** The pair the server started with, or null for plain HTTP. */
  readonly tlsPair: TlsPair | null;
}

/**
 * Accept queue of the listener. Node's default (511) overflows when thousands of SSE clients connect
 * within a second or two, and an overflowed queue costs each connection a SYN retransmit (1 s, 3 s, …)
 * or a reset (issue 10: 10,000 streams). The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 65_535;

/**
 * Creates the server (HTTPS when `tls` is set, after {@link loadTlsPair} validated the pair) and
 * listens on `host:port`. Resolves once listening.
 * @throws TunnelError `TUNNEL_GATEWAY_TLS_INVALID` for an unusable pair, `TUNNEL_LISTEN_FAILED` when it cannot listen (port in use…).
 */
export async function startListener(address: { host: string; port: number }, tls: TlsFiles | null, handlers: ListenerHandlers, logger: Logger): Promise<Listener> {
  const tlsPair = tls ? loadTlsPair(tls) : null;
  const server = createServer(tlsPair, handlers, logger);
  await new Promise<void>((resolve, reject) => {
    const failed = (err: Error): void => reject(listenFailure(err, address));
    server.once('error', failed);
    server.listen({ port: address.port, host: address.host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return { server, port, url: `${tlsPair ? 'https' : 'http'}://${host}:${port}`, tlsPair };
}

/**
 * `TUNNEL_LISTEN_FAILED` for a listen error, saying what to change: the CLI logs it as one line
 * (no stack trace) and exits 2, like a bad configuration.
 */
function listenFailure(err: Error & { code?: string }, address: { host: string; port: number }): TunnelError {
  const where = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  const why =
    err.code === 'EADDRINUSE'
      ? 'the port is in use (another process listens there: stop it, or change listen.port)'
      : err.code === 'EACCES'
        ? 'permission denied (ports below 1024 need privileges: use a port from 1024 up, with a load balancer or port mapping in front)'
        : err.code === 'EADDRNOTAVAIL'
          ? 'this host has no such address (listen.host: 0.0.0.0 listens on all addresses)'
          : describeError(err);
  return new TunnelError('TUNNEL_LISTEN_FAILED', `cannot listen on ${where}: ${why}`, { cause: err });
}

function createServer(tlsPair: TlsPair | null, handlers: ListenerHandlers, logger: Logger): http.Server {
  const server: http.Server = tlsPair
    ? https.createServer({ cert: tlsPair.cert, key: tlsPair.key, noDelay: true }, handlers.request)
    : http.createServer({ noDelay: true }, handlers.request);
  // Long-lived SSE streams and large uploads must not be cut by Node's request timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.on('connection', (s: Socket) => s.setNoDelay(true));
  server.on('upgrade', handlers.upgrade);
  server.on('clientError', (err, socket) => {
    logger.debug({ [F.err]: describeError(err) }, 'malformed HTTP request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  return server;
}

/**
 * Certificate renewal without a restart: watches `files` and installs a changed, valid pair on the
 * listener; new TLS connections get it, established ones keep theirs. Logs the certificate in force.
 * @returns null for a plain HTTP listener.
 */
export function watchCertificate(listener: Listener, files: TlsFiles | null, logger: Logger, debounceMs?: number): TlsReloader | null {
  const current = listener.tlsPair;
  if (files === null || current === null) return null;
  const reloader = watchTlsFiles({
    files,
    current,
    apply: (pair) => (listener.server as https.Server).setSecureContext({ cert: pair.cert, key: pair.key }),
    logger,
    debounceMs,
  });
  logger.info(describeCertificate(current.cert), 'TLS certificate loaded');
  warnIfExpiring(logger, current.cert, files.cert);
  return reloader;
}
