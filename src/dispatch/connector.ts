import { isIP, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { buildConnector } from './undici';
import { isTlsAlertCode, underlyingCode } from './classify';
import { EgressDeniedError, egressLookup, type EgressDecision, type EgressPolicy, type EgressResolver } from './egress';
import type { UpstreamTlsOptions } from './tls';

/** TCP keep-alive probe delay on upstream sockets (Node/undici default is 60 s as well). */
export const TCP_KEEPALIVE_INITIAL_DELAY_MS = 60_000;

/** How long a recorded TLS alert stays available to the classifier after its socket closed. */
const TLS_FAILURE_RETENTION_MS = 5_000;

/** Socket identity as undici reports it in `SocketError.socket`. */
interface SocketAddressInfo {
  localAddress?: string | undefined;
  localPort?: number | undefined;
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  bytesRead?: number | undefined;
}

function socketKey(info: SocketAddressInfo): string | null {
  if (info.localPort === undefined || info.remotePort === undefined) return null;
  return `${info.localAddress ?? ''}|${info.localPort}|${info.remoteAddress ?? ''}|${info.remotePort}`;
}

/**
 * Remembers TLS alerts a server sent on a connection before any response byte, so that a failed
 * request is classified as `TUNNEL_UPSTREAM_UNREACHABLE` (the request never reached the application)
 * instead of a reset.
 *
 * Why: with TLS 1.3 the client completes its handshake before the server has checked the client
 * certificate. A server that rejects it at the TLS layer (certificate required but missing, unknown CA
 * for OpenSSL/BoringSSL/Go servers, …) sends an alert and closes; the socket emits
 * `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED` (or `…_TLSV1_ALERT_UNKNOWN_CA`, …), but undici sees the
 * close first and fails the request with a generic `UND_ERR_SOCKET` ("other side closed").
 * undici's `SocketError` carries the socket's addresses, which is how the classifier finds the alert.
 *
 * Not covered: a server that rejects the certificate *without* an alert. Node.js HTTPS servers do
 * that for a certificate from an untrusted CA (they verify in JavaScript after the handshake and just
 * close); on the wire that is indistinguishable from an upstream that accepted the connection and
 * closed it before responding, so it stays `TUNNEL_UPSTREAM_RESET`.
 */
export class TlsFailureTracker {
  private readonly failures = new Map<string, Error>();

  /** Starts watching a freshly connected socket (plain TCP sockets are ignored). */
  watch(socket: Socket): void {
    if (!isTlsSocket(socket)) return;
    const key = socketKey(socket);
    if (key === null) return;
    const onError = (err: Error): void => {
      // Only alerts before any application data: a later alert ends an exchange that did happen.
      if (isTlsAlertCode(underlyingCode(err)) && socket.bytesRead === 0 && !this.failures.has(key)) {
        this.failures.set(key, err);
      }
    };
    socket.on('error', onError);
    socket.once('close', () => {
      socket.off('error', onError);
      if (this.failures.has(key)) {
        // The request fails in the same tick as 'close' (undici errors it from its close listener);
        // keep the entry a little longer anyway, unref'd so it never holds the process open.
        setTimeout(() => this.failures.delete(key), TLS_FAILURE_RETENTION_MS).unref();
      }
    });
  }

  /** The TLS rejection recorded for the socket an undici `SocketError` (`UND_ERR_SOCKET`) describes. */
  lookup(err: unknown): Error | undefined {
    if (typeof err !== 'object' || err === null) return undefined;
    const info = (err as { socket?: unknown }).socket;
    if (typeof info !== 'object' || info === null) return undefined;
    const key = socketKey(info);
    return key === null ? undefined : this.failures.get(key);
  }

  /** Drops every record (on dispatcher close). */
  clear(): void {
    this.failures.clear();
  }
}

function isTlsSocket(socket: Socket): socket is TLSSocket {
  return (socket as Partial<TLSSocket>).encrypted === true && typeof (socket as Partial<TLSSocket>).getProtocol === 'function';
}

/**
 * undici's connector with our socket options made explicit: TCP_NODELAY on (MCP messages and SSE
 * events are small and latency-sensitive), TCP keep-alive on, the connect timeout covering TCP plus
 * TLS handshake, and every connected socket registered with `tracker`.
 */
export function createConnector(
  tls: UpstreamTlsOptions,
  connectTimeoutMs: number,
  tracker: TlsFailureTracker,
  egress?: EgressGuard,
): buildConnector.connector {
  const guard = egress?.policy.enabled === true ? egressLookup(egress.policy, egress.resolver) : null;
  const base = buildConnector({
    ...tls,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: TCP_KEEPALIVE_INITIAL_DELAY_MS,
    // undici treats 0 as "no timeout", matching the config's meaning.
    timeout: connectTimeoutMs,
    // The one DNS lookup of the connection happens here, so the policy sees the addresses connected to.
    ...(guard ? { lookup: guard.lookup } : {}),
  });
  const connect: buildConnector.connector = (options, callback) => {
    base(options, (err, socket) => {
      if (socket !== null && err === null) tracker.watch(socket);
      // The connector's callback type is a tuple union; forward the exact pair we received.
      if (err !== null) callback(err, null);
      else callback(null, socket);
    });
  };
  if (guard === null || egress === undefined) return connect;
  return (options, callback) => {
    const host = options.hostname.startsWith('[') ? options.hostname.slice(1, -1) : options.hostname;
    const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
    // net.connect skips `lookup` for an IP literal: decide on the literal itself.
    if (isIP(host) !== 0) {
      const d = egress.policy.decide(host, host, port);
      egress.onDecision?.(d);
      if (!d.allowed) {
        callback(new EgressDeniedError(d.decision), null);
        return;
      }
    }
    guard.run({ host, port, onDecision: egress.onDecision }, () => connect(options, callback));
  };
}

/** Egress policy enforcement for {@link createConnector}. */
export interface EgressGuard {
  policy: EgressPolicy;
  /** Resolves host names (default `dns.lookup`); injectable so tests can play a rebinding DNS server. */
  resolver?: EgressResolver | undefined;
  /** Receives every per-address decision (debug logging, tests). */
  onDecision?: ((d: EgressDecision) => void) | undefined;
}
