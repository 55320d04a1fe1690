import { Observable } from '../rx';
import { CloseCode, closeCodeOf, PERMANENT_CLOSE_CODES, SUPPORTED_VERSIONS, closeCodeName, type AuthMessage, type ControlMessage, type PeerSettings, type ReadyMessage } from '../protocol';
import type { FrameTransport } from '../mux';
import { describeError } from '../errors';
import { controlMessage, parseHandshakeMessage } from './frames';
import { bindingTag, bindingTagIn, proxyChannelBinding } from './channel-binding';
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

/** Why the handshake ends here, and the close to send (none when the gateway already closed). */
interface Refusal {
  err: HandshakeError;
  close?: { code: number; reason: string };
}

/** What the proxy agreed to in its `auth`; `ready` must confirm the version. */
interface Agreed {
  version: number;
  channelBinding: string;
}

/**
 * Proxy side of the handshake: wait for `hello`, pick the newest common version, answer with the
 * HMAC proof, wait for `ready`. Emits once and completes; the caller takes over the transport in
 * `next`. Errors with a HandshakeError whose `permanent` flag drives the reconnect policy.
 */
export function authenticate(transport: FrameTransport, opts: AuthenticateOptions): Observable<ProxySession> {
  return new Observable<ProxySession>((subscriber) => {
    /** Null until `hello` was answered. */
    let agreed: Agreed | null = null;
    let done = false;
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      return true;
    };
    const fail = ({ err, close }: Refusal): void => {
      if (!finish()) return;
      if (close) transport.close(close.code, close.reason);
      subscriber.error(err);
    };
    const timer = setTimeout(() => fail(timeoutRefusal(opts.timeoutMs)), opts.timeoutMs);
    transport.setHandler({
      onMessage: (message) => {
        if (done) return;
        const msg = readHandshakeMessage(message, opts.local.maxHeaderBytes);
        if ('err' in msg) return fail(msg);
        if (agreed === null) {
          const answer = answerHello(msg, opts);
          if ('err' in answer) return fail(answer);
          agreed = answer.agreed;
          transport.send(controlMessage(answer.auth));
          return;
        }
        const ready = checkReady(msg, agreed.version);
        if ('err' in ready) return fail(ready);
        finish();
        subscriber.next({ connectionId: ready.connection, version: agreed.version, remote: ready.settings, channelBinding: agreed.channelBinding });
        subscriber.complete();
      },
      onClose: (code, reason) => fail({ err: closedDuringHandshake(code, reason, agreed) }),
    });
    return () => {
      if (finish()) transport.close(CloseCode.GOING_AWAY, 'proxy stopped');
    };
  });
}

/** Parses one handshake frame; a malformed one is refused with the close code found where it was thrown. */
function readHandshakeMessage(message: Buffer, limit: number): ControlMessage | Refusal {
  try {
    return parseHandshakeMessage(message, limit);
  } catch (err) {
    const reason = describeError(err);
    const closeCode = closeCodeOf(err);
    return { err: new HandshakeError('TUNNEL_HANDSHAKE_PROTOCOL', reason, { closeCode, permanent: false }), close: { code: closeCode, reason } };
  }
}

/**
 * The answer to the gateway's first message: it must be `hello`; the newest common version and the
 * announced channel binding are agreed, and the proof is computed with the secret current now.
 */
function answerHello(msg: ControlMessage, opts: AuthenticateOptions): { agreed: Agreed; auth: AuthMessage } | Refusal {
  if (msg.type !== 'hello') return protocolRefusal(`expected hello, got ${msg.type}`);
  const ours = opts.versions ?? SUPPORTED_VERSIONS;
  const common = ours.filter((v) => msg.versions.includes(v));
  if (common.length === 0) {
    const reason = `no common protocol version (gateway: ${msg.versions.join(', ')}; proxy: ${ours.join(', ')})`;
    return { err: new HandshakeError('TUNNEL_UNSUPPORTED_VERSION', reason, { closeCode: CloseCode.UNSUPPORTED_VERSION, permanent: true }), close: { code: CloseCode.UNSUPPORTED_VERSION, reason } };
  }
  const version = Math.max(...common);
  const bound = proxyChannelBinding(msg.binding, opts.tlsExporter, opts.requireChannelBinding ?? false);
  if (!bound.ok) {
    return { err: new HandshakeError(bound.code, bound.reason, { closeCode: CloseCode.PROTOCOL_ERROR, permanent: true }), close: { code: CloseCode.PROTOCOL_ERROR, reason: `proxy refuses: ${bound.code}` } };
  }
  const { channelBinding } = bound;
  const proof = computeProof(opts.secret(), { version, tunnel: opts.tunnelId, nonce: msg.nonce, channelBinding });
  return { agreed: { version, channelBinding }, auth: { type: 'auth', version, tunnel: opts.tunnelId, proof, proxy: opts.proxy, settings: opts.local } };
}

/** The gateway's second message must be `ready`, confirming the version the proxy chose. */
function checkReady(msg: ControlMessage, version: number): ReadyMessage | Refusal {
  if (msg.type !== 'ready') return protocolRefusal(`expected ready, got ${msg.type}`);
  if (msg.version !== version) return protocolRefusal(`gateway confirmed version ${msg.version}, we chose ${version}`);
  return msg;
}

function protocolRefusal(reason: string): Refusal {
  return { err: new HandshakeError('TUNNEL_HANDSHAKE_PROTOCOL', reason, { closeCode: CloseCode.PROTOCOL_ERROR, permanent: false }), close: { code: CloseCode.PROTOCOL_ERROR, reason } };
}

function timeoutRefusal(timeoutMs: number): Refusal {
  return {
    err: new HandshakeError('TUNNEL_HANDSHAKE_TIMEOUT', `gateway did not complete the handshake within ${timeoutMs} ms`, { closeCode: CloseCode.HANDSHAKE_TIMEOUT, permanent: false }),
    close: { code: CloseCode.HANDSHAKE_TIMEOUT, reason: 'handshake timeout' },
  };
}

/**
 * The gateway closed before `ready`: its close code says whether retrying can help. A 4401 whose
 * reason names another TLS session than ours (`bindingTagIn`) is no wrong secret: the proof was bound
 * to our session and the gateway saw another one — TLS ends at something in between.
 */
function closedDuringHandshake(code: number, reason: string, agreed: Agreed | null): HandshakeError {
  const theirs = bindingTagIn(reason);
  if (code === CloseCode.AUTH_FAILED && theirs !== null && agreed !== null && agreed.channelBinding !== '' && bindingTag(agreed.channelBinding) !== theirs) {
    return new HandshakeError(
      'TUNNEL_CHANNEL_BINDING_MISMATCH',
      `the gateway saw another TLS session than this proxy (gateway ${theirs}, proxy ${bindingTag(agreed.channelBinding)}): something between them terminates TLS, so the proof cannot match`,
      { closeCode: code, permanent: true },
    );
  }
  const errCode = CLOSE_TO_CODE[code] ?? 'TUNNEL_HANDSHAKE_CLOSED';
  return new HandshakeError(errCode, `gateway closed the connection during the handshake: ${closeCodeName(code)}${reason ? ` (${reason})` : ''}`, {
    closeCode: code,
    permanent: PERMANENT_CLOSE_CODES.has(code),
  });
}
