import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Observable } from 'rxjs';
import WebSocket from 'ws';
import { wsTransport, type FrameTransport } from '../mux';
import { DialError } from './errors';

export interface DialOptions {
  url: string;
  /** Extra CA (PEM file) trusted in addition to the system CAs. */
  caFile: string | null;
  /** Largest WebSocket message accepted. */
  maxPayload: number;
  /** Time allowed for TCP + TLS + HTTP upgrade. */
  openTimeoutMs: number;
  headers?: Record<string, string>;
}

export interface DialedConnection {
  ws: WebSocket;
  transport: FrameTransport;
  secure: boolean;
}

/** Reads the CA bundle once: system roots plus the private CA. */
export function trustedCas(caFile: string | null): string[] | undefined {
  if (!caFile) return undefined;
  return [...rootCertificates, readFileSync(caFile, 'utf8')];
}

/**
 * Opens one WebSocket to the gateway. Emits the open connection once and then stays silent: the
 * subscription owns the socket, and unsubscribing terminates it. Errors (DialError) only before the
 * socket is open; after that, closes are reported through the transport to its handler.
 */
export function dial(opts: DialOptions, ca?: string[]): Observable<DialedConnection> {
  return new Observable<DialedConnection>((subscriber) => {
    const secure = opts.url.startsWith('wss:');
    const ws = new WebSocket(opts.url, {
      perMessageDeflate: false,
      maxPayload: opts.maxPayload,
      handshakeTimeout: opts.openTimeoutMs,
      headers: opts.headers,
      ...(ca ? { ca } : {}),
    });
    let open = false;
    ws.on('upgrade', (res) => {
      // ws sets TCP_NODELAY itself; be explicit, since delayed ACKs cost tens of ms per request.
      res.socket.setNoDelay(true);
    });
    ws.once('unexpected-response', (req, res) => {
      const status = res.statusCode ?? 0;
      req.destroy();
      res.resume();
      const permanent = status === 404 || status === 401 || status === 403;
      subscriber.error(
        new DialError(status === 404 ? 'TUNNEL_UNKNOWN_TUNNEL' : 'TUNNEL_DIAL_REJECTED', `gateway answered the tunnel upgrade with HTTP ${status}${status === 404 ? ' (unknown tunnel id)' : ''}`, {
          permanent,
          status,
        }),
      );
    });
    ws.once('open', () => {
      open = true;
      const remote = `${(ws as unknown as { _socket?: { remoteAddress?: string } })._socket?.remoteAddress ?? 'gateway'}`;
      subscriber.next({ ws, transport: wsTransport(ws, remote), secure });
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (open) return; // reported through 'close' to the transport's handler
      const tlsFailure = typeof err.code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/.test(err.code);
      subscriber.error(
        new DialError(tlsFailure ? 'TUNNEL_TLS_VERIFY_FAILED' : 'TUNNEL_DIAL_FAILED', `could not connect to the gateway: ${err.code ? `${err.code}: ` : ''}${err.message}`, {
          permanent: false,
          cause: err,
        }),
      );
    });
    return () => {
      // A clean close lets queued frames (GOAWAY, last DATA) reach the gateway first.
      if (ws.readyState === WebSocket.OPEN) ws.close(4000, 'proxy stopping');
      else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      ws.removeAllListeners('upgrade');
    };
  });
}
