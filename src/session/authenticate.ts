import { Observable } from 'rxjs';
import { CloseCode, closeCodeOf, PERMANENT_CLOSE_CODES, SUPPORTED_VERSIONS, closeCodeName, type AuthMessage, type PeerSettings } from '../protocol';
import type { FrameTransport } from '../mux';
import { describeError } from '../errors';
import { controlMessage, parseHandshakeMessage } from './frames';
import { proxyChannelBinding } from './channel-binding';
import { computeProof } from './proof';
import { HandshakeError } from './errors';

export interface AuthenticateOptions {
  tunnelId: string;
  /** The current secret (read when the proof is computed, so a rotated file applies at once). */
  secret: () => string;
  local: PeerSettings;
  timeoutMs: number;
  /**
   * This connection's tls-exporter value (`tlsExporterBinding` of the TLS socket), or null when the
   * connection is not TLS. The proof covers it when the gateway announces `tls-exporter`.
   */
  tlsExporter: string | null;
  /** Refuse a gateway that announces binding `none` over TLS (MCP_TUNNEL_REQUIRE_CHANNEL_BINDING). */
  requireChannelBinding?: boolean;
  proxy: AuthMessage['proxy'];
  versions?: readonly number[];
}

export interface ProxySession {
  connectionId: string;
  version: number;
  /** The gateway's receive settings. */
  remote: PeerSettings;
  /** The channel binding value the proof covered; in-band re-authentication must use it again. */
  channelBinding: string;
}

const CLOSE_TO_CODE: Record<number, string> = {
  [CloseCode.AUTH_FAILED]: 'TUNNEL_AUTH_FAILED',
  [CloseCode.UNKNOWN_TUNNEL]: 'TUNNEL_UNKNOWN_TUNNEL',
  [CloseCode.UNSUPPORTED_VERSION]: 'TUNNEL_UNSUPPORTED_VERSION',
  [CloseCode.HANDSHAKE_TIMEOUT]: 'TUNNEL_HANDSHAKE_TIMEOUT',
  [CloseCode.TOO_MANY_CONNECTIONS]: 'TUNNEL_TOO_MANY_CONNECTIONS',
};

/**
 * Proxy side of the handshake: wait for `hello`, pick the newest common version, answer with the
 * HMAC proof, wait for `ready`. Emits once and completes; the caller takes over the transport in
 * `next`. Errors with a HandshakeError whose `permanent` flag drives the reconnect policy.
 */
export function authenticate(transport: FrameTransport, opts: AuthenticateOptions): Observable<ProxySession> {
  return new Observable<ProxySession>((subscriber) => {
    const ours = opts.versions ?? SUPPORTED_VERSIONS;
    let state: 'hello' | 'ready' | 'done' = 'hello';
    let version = 0;
    let channelBinding = '';
    const fail = (err: HandshakeError, close?: { code: number; reason: string }): void => {
      if (state === 'done') return;
      state = 'done';
      clearTimeout(timer);
      if (close) transport.close(close.code, close.reason);
      subscriber.error(err);
    };
    const protocolFail = (reason: string): void =>
      fail(new HandshakeError('TUNNEL_HANDSHAKE_PROTOCOL', reason, { closeCode: CloseCode.PROTOCOL_ERROR, permanent: false }), {
        code: CloseCode.PROTOCOL_ERROR,
        reason,
      });
    const timer = setTimeout(
      () =>
        fail(new HandshakeError('TUNNEL_HANDSHAKE_TIMEOUT', `gateway did not complete the handshake within ${opts.timeoutMs} ms`, { closeCode: CloseCode.HANDSHAKE_TIMEOUT, permanent: false }), {
          code: CloseCode.HANDSHAKE_TIMEOUT,
          reason: 'handshake timeout',
        }),
      opts.timeoutMs,
    );
    transport.setHandler({
      onMessage: (message) => {
        if (state === 'done') return;
        let msg;
        try {
          msg = parseHandshakeMessage(message, opts.local.maxHeaderBytes);
        } catch (err) {
          const reason = describeError(err);
          const closeCode = closeCodeOf(err);
          return fail(new HandshakeError('TUNNEL_HANDSHAKE_PROTOCOL', reason, { closeCode, permanent: false }), { code: closeCode, reason });
        }
        if (state === 'hello') {
          if (msg.type !== 'hello') return protocolFail(`expected hello, got ${msg.type}`);
          const common = ours.filter((v) => msg.versions.includes(v));
          if (common.length === 0) {
            const reason = `no common protocol version (gateway: ${msg.versions.join(', ')}; proxy: ${ours.join(', ')})`;
            return fail(new HandshakeError('TUNNEL_UNSUPPORTED_VERSION', reason, { closeCode: CloseCode.UNSUPPORTED_VERSION, permanent: true }), {
              code: CloseCode.UNSUPPORTED_VERSION,
              reason,
            });
          }
          version = Math.max(...common);
          const bound = proxyChannelBinding(msg.binding, opts.tlsExporter, opts.requireChannelBinding ?? false);
          if (!bound.ok) {
            return fail(new HandshakeError(bound.code, bound.reason, { closeCode: CloseCode.PROTOCOL_ERROR, permanent: true }), {
              code: CloseCode.PROTOCOL_ERROR,
              reason: `proxy refuses: ${bound.code}`,
            });
          }
          channelBinding = bound.channelBinding;
          const proof = computeProof(opts.secret(), { version, tunnel: opts.tunnelId, nonce: msg.nonce, channelBinding });
          state = 'ready';
          transport.send(controlMessage({ type: 'auth', version, tunnel: opts.tunnelId, proof, proxy: opts.proxy, settings: opts.local }));
          return;
        }
        if (msg.type !== 'ready') return protocolFail(`expected ready, got ${msg.type}`);
        if (msg.version !== version) return protocolFail(`gateway confirmed version ${msg.version}, we chose ${version}`);
        state = 'done';
        clearTimeout(timer);
        subscriber.next({ connectionId: msg.connection, version, remote: msg.settings, channelBinding });
        subscriber.complete();
      },
      onClose: (code, reason) => {
        const errCode = CLOSE_TO_CODE[code] ?? 'TUNNEL_HANDSHAKE_CLOSED';
        fail(
          new HandshakeError(errCode, `gateway closed the connection during the handshake: ${closeCodeName(code)}${reason ? ` (${reason})` : ''}`, {
            closeCode: code,
            permanent: PERMANENT_CLOSE_CODES.has(code),
          }),
        );
      },
    });
    return () => {
      clearTimeout(timer);
      if (state !== 'done') {
        state = 'done';
        transport.close(CloseCode.GOING_AWAY, 'proxy stopped');
      }
    };
  });
}
