import { randomUUID } from 'node:crypto';
import { Observable } from '../rx';
import { CloseCode, closeCodeOf, SUPPORTED_VERSIONS, closeCodeName, type AuthMessage, type ChannelBindingType, type PeerSettings } from '../protocol';
import type { FrameTransport } from '../mux';
import { F, type Logger } from '../log';
import { describeError } from '../errors';
import { controlMessage, parseHandshakeMessage } from './frames';
import { matchProof, newNonce } from './proof';
import { HandshakeError } from './errors';
import { bindingTag } from './channel-binding';

export interface AcceptOptions {
  tunnelId: string;
  /** Current secrets of the tunnel (read at verification time, so reloads apply at once). */
  secrets: () => readonly string[];
  /** Our receive settings, announced in `ready`. */
  local: PeerSettings;
  timeoutMs: number;
  /**
   * Announced in `hello`: `tls-exporter` when this gateway terminated TLS on the connection, else
   * `none` (see `gatewayChannelBinding` and docs/protocol.md §3). Default `none`.
   */
  binding?: ChannelBindingType;
  /** The tls-exporter value the proof must cover when `binding` is `tls-exporter`; '' for `none`. */
  channelBinding: string;
  /**
   * Bound by the caller with the tunnel and the peer's address (`remote`): the lines logged here do
   * not repeat them (a second `remote` key was a duplicated JSON key).
   */
  logger: Logger;
  versions?: readonly number[];
}

export interface GatewaySession {
  connectionId: string;
  version: number;
  tunnelId: string;
  proxy: AuthMessage['proxy'];
  /** The proxy's receive settings. */
  remote: PeerSettings;
  /** Which of the tunnel's secrets matched (for rotation bookkeeping; never the secret). */
  secretIndex: number;
  /** The channel binding value the proof covered; in-band re-authentication must use it again. */
  channelBinding: string;
}

/**
 * Gateway side of the handshake on a fresh connection: send `hello` with a nonce, verify the
 * proxy's `auth` proof, answer `ready`. Emits once and completes; the caller must take over the
 * transport (create the multiplexer) synchronously in `next`. On failure the connection is closed
 * with a specific close code and the observable errors with a HandshakeError. Until then the
 * connection holds only a nonce and a timer.
 */
export function acceptHandshake(transport: FrameTransport, opts: AcceptOptions): Observable<GatewaySession> {
  return new Observable<GatewaySession>((subscriber) => {
    const versions = opts.versions ?? SUPPORTED_VERSIONS;
    const nonce = newNonce();
    let done = false;
    const fail = (code: string, closeCode: number, reason: string, permanent: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.logger.warn({ [F.code]: code, [F.reason]: reason, close: closeCodeName(closeCode) }, 'tunnel handshake failed');
      transport.close(closeCode, reason);
      subscriber.error(new HandshakeError(code, reason, { closeCode, permanent }));
    };
    const timer = setTimeout(
      () => fail('TUNNEL_HANDSHAKE_TIMEOUT', CloseCode.HANDSHAKE_TIMEOUT, `handshake not completed within ${opts.timeoutMs} ms`, false),
      opts.timeoutMs,
    );
    transport.setHandler({
      onMessage: (message) => {
        if (done) return;
        let msg;
        try {
          msg = parseHandshakeMessage(message, opts.local.maxHeaderBytes);
        } catch (err) {
          return fail('TUNNEL_HANDSHAKE_PROTOCOL', closeCodeOf(err), describeError(err), false);
        }
        if (msg.type !== 'auth') return fail('TUNNEL_HANDSHAKE_PROTOCOL', CloseCode.PROTOCOL_ERROR, `expected auth, got ${msg.type}`, false);
        if (!versions.includes(msg.version)) {
          return fail('TUNNEL_UNSUPPORTED_VERSION', CloseCode.UNSUPPORTED_VERSION, `protocol version ${msg.version} not supported (supported: ${versions.join(', ')})`, true);
        }
        if (msg.tunnel !== opts.tunnelId) {
          return fail('TUNNEL_AUTH_FAILED', CloseCode.AUTH_FAILED, 'authentication failed: tunnel id does not match the URL', true);
        }
        const index = matchProof(opts.secrets(), msg.proof, {
          version: msg.version,
          tunnel: opts.tunnelId,
          nonce,
          channelBinding: opts.channelBinding,
        });
        if (index < 0) return fail('TUNNEL_AUTH_FAILED', CloseCode.AUTH_FAILED, authFailure(opts, msg.proof, { version: msg.version, tunnel: opts.tunnelId, nonce }), true);
        done = true;
        clearTimeout(timer);
        const connectionId = randomUUID();
        transport.send(controlMessage({ type: 'ready', version: msg.version, connection: connectionId, settings: opts.local }));
        subscriber.next({ connectionId, version: msg.version, tunnelId: opts.tunnelId, proxy: msg.proxy, remote: msg.settings, secretIndex: index, channelBinding: opts.channelBinding });
        subscriber.complete();
      },
      onClose: (code, reason) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // Also how a text message ends a handshake (the transport closes with 4400 on its own).
        opts.logger.warn({ [F.code]: 'TUNNEL_HANDSHAKE_CLOSED', close: closeCodeName(code), [F.reason]: reason }, 'tunnel connection closed during the handshake');
        subscriber.error(new HandshakeError('TUNNEL_HANDSHAKE_CLOSED', `connection closed during handshake (${code} ${reason})`, { closeCode: code, permanent: false }));
      },
    });
    transport.send(controlMessage({ type: 'hello', versions: [...versions], nonce, binding: opts.binding ?? 'none' }));
    return () => {
      clearTimeout(timer);
      if (!done) {
        done = true;
        transport.close(CloseCode.GOING_AWAY, 'gateway stopped');
      }
    };
  });
}

/**
 * Why a proof matched no secret, as the 4401 close reason (at most 123 bytes). A proof that matches
 * unbound came from a proxy that did not bind it (older than channel binding). Otherwise, when the
 * proof was to be bound, the gateway cannot tell a wrong secret from a proof bound to another TLS
 * session (a relay): the reason carries this session's {@link bindingTag}, and the proxy, comparing it
 * with its own, tells which (`TUNNEL_CHANNEL_BINDING_MISMATCH` there).
 */
function authFailure(opts: AcceptOptions, proof: string, ctx: { version: number; tunnel: string; nonce: string }): string {
  if (opts.binding !== 'tls-exporter') return "authentication failed: wrong secret (the proof matches none of the tunnel's secrets)";
  if (matchProof(opts.secrets(), proof, { ...ctx, channelBinding: '' }) >= 0) {
    return 'authentication failed: right secret, but the proof is not bound to this TLS session (proxy too old?)';
  }
  return `authentication failed: wrong secret, or a proof bound to another TLS session (gateway TLS session ${bindingTag(opts.channelBinding)})`;
}
