import { readFileSync } from 'node:fs';
import { TLSSocket, checkServerIdentity, rootCertificates, type PeerCertificate } from 'node:tls';
import { Observable } from '../rx';
import WebSocket from 'ws';
import type { FrameTransport } from '../mux';
import { wsTransport } from './ws-transport';
import { DialError } from './errors';
import { dialFailure, upgradeRefusalHint } from './hints';
import { checkPins } from './pin';
import { maskingUseless, zeroMask } from './mask';

export interface DialOptions {
  url: string;
  /** Extra CA (PEM file) trusted in addition to the system CAs. */
  caFile: string | null;
  /** Largest WebSocket message accepted. */
  maxPayload: number;
  /** Time allowed for TCP + TLS + HTTP upgrade. */
  openTimeoutMs: number;
  headers?: Record<string, string>;
  /**
   * SHA-256 pins (lower-case hex) of the gateway certificate's SubjectPublicKeyInfo; empty or absent
   * = no pinning. Checked after normal verification; a mismatch is a permanent TUNNEL_PIN_MISMATCH.
   */
  pins?: readonly string[];
}

export interface DialedSocket {
  ws: WebSocket;
  transport: FrameTransport;
  secure: boolean;
  /** The TLS socket under a wss:// connection (for the channel binding), null for ws://. */
  tlsSocket: TLSSocket | null;
  /** The gateway replica that accepted (its `X-Mcp-Tunnel-Replica` header; docs/cluster.md), null without a cluster. */
  replica: string | null;
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
export function dial(opts: DialOptions, ca?: string[]): Observable<DialedSocket> {
  return new Observable<DialedSocket>((subscriber) => {
    const secure = opts.url.startsWith('wss:');
    const pins = opts.pins ?? [];
    const zeroMasked = maskingUseless(opts.url);
    const ws = new WebSocket(opts.url, {
      perMessageDeflate: false,
      maxPayload: opts.maxPayload,
      handshakeTimeout: opts.openTimeoutMs,
      headers: opts.headers,
      ...(zeroMasked ? { generateMask: zeroMask } : {}),
      ...(ca ? { ca } : {}),
      // Runs only after the chain verified; before any HTTP byte is sent. Its error fails the dial.
      ...(pins.length > 0 ? { checkServerIdentity: (host: string, cert: PeerCertificate) => checkServerIdentity(host, cert) ?? checkPins(pins, cert) ?? undefined } : {}),
    });
    let open = false;
    let tlsSocket: TLSSocket | null = null;
    let replica: string | null = null;
    ws.on('upgrade', (res) => {
      const named = res.headers['x-mcp-tunnel-replica'];
      replica = typeof named === 'string' && named.length <= 64 ? named : null;
      // ws sets TCP_NODELAY itself; be explicit, since delayed ACKs cost tens of ms per request.
      res.socket.setNoDelay(true);
      if (res.socket instanceof TLSSocket) tlsSocket = res.socket;
      // Node skips checkServerIdentity on a resumed TLS session; check the pin again before `open`.
      const mismatch = tlsSocket !== null ? checkPins(pins, tlsSocket.getPeerCertificate()) : null;
      if (mismatch !== null) {
        ws.terminate();
        subscriber.error(mismatch);
      }
    });
    ws.once('unexpected-response', (req, res) => {
      const status = res.statusCode ?? 0;
      req.destroy();
      res.resume();
      const permanent = status === 404 || status === 401 || status === 403;
      // 429/503 carry how long to stay away; the reconnect loop waits at least that long.
      const retryAfter = Number(res.headers['retry-after']);
      const code = status === 404 ? 'TUNNEL_UNKNOWN_TUNNEL' : status === 429 ? 'TUNNEL_TOO_MANY_CONNECTIONS' : 'TUNNEL_DIAL_REJECTED';
      subscriber.error(
        new DialError(code, `gateway answered the tunnel upgrade with HTTP ${status}${status === 404 ? ' (unknown tunnel id)' : status === 429 ? ' (connection limit)' : ''}`, {
          permanent,
          status,
          ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
          hint: upgradeRefusalHint(status),
        }),
      );
    });
    ws.once('open', () => {
      open = true;
      const remote = `${(ws as unknown as { _socket?: { remoteAddress?: string } })._socket?.remoteAddress ?? 'gateway'}`;
      subscriber.next({ ws, transport: wsTransport(ws, remote, { zeroMask: zeroMasked }), secure, tlsSocket, replica });
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (open) return; // reported through 'close' to the transport's handler
      if (err instanceof DialError) return subscriber.error(err); // TUNNEL_PIN_MISMATCH from checkServerIdentity
      subscriber.error(dialFailure(err, { url: opts.url, timeoutMs: opts.openTimeoutMs }));
    });
    return () => {
      // A clean close lets queued frames (GOAWAY, last DATA) reach the gateway first.
      if (ws.readyState === WebSocket.OPEN) ws.close(4000, 'proxy stopping');
      else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      ws.removeAllListeners('upgrade');
    };
  });
}
