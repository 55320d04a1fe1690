/**
 * What an operator can do about a failed tunnel connection: each failure the proxy logs carries a
 * `hint` (docs/operations.md "Troubleshooting"). Raw OpenSSL and socket errors name the symptom; the
 * hint names the setting. Decided here, where the error is classified, so the log line never parses
 * a message string later.
 */
import { TunnelError } from '../errors';
import { DialError } from './errors';

/** Env vars named in hints (the proxy's settings; see src/config/proxy.ts). */
const CA_FILE = 'MCP_TUNNEL_CA_FILE';
const URL_ENV = 'MCP_TUNNEL_URL';
const TIMEOUT_ENV = 'MCP_TUNNEL_HANDSHAKE_TIMEOUT_MS';

/** OpenSSL verification codes meaning "signed by nobody this proxy trusts". */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** ws's message when `handshakeTimeout` (our `handshakeTimeoutMs`) ran out before the upgrade. */
const WS_OPEN_TIMEOUT = /opening handshake has timed out/i;
/** OpenSSL reading a plain-text answer as a TLS record. */
const NOT_TLS = /wrong version number|packet length too long|unknown protocol|http request/i;

export interface DialContext {
  url: string;
  /** The configured `handshakeTimeoutMs`, quoted in the timeout's message. */
  timeoutMs: number;
}

interface Classified {
  code: string;
  hint: string | null;
  /** Replaces the raw message (only where the raw one says nothing useful). */
  message?: string;
}

function classifyTls(code: string): Classified | null {
  if (UNTRUSTED.has(code)) {
    return {
      code: 'TUNNEL_TLS_VERIFY_FAILED',
      hint: `the gateway's certificate is not signed by a CA this proxy trusts: set ${CA_FILE} to the PEM file of the CA that issued it (a private CA), or give the gateway a certificate from a public CA`,
    };
  }
  if (code === 'CERT_HAS_EXPIRED') return { code: 'TUNNEL_TLS_VERIFY_FAILED', hint: "the gateway's certificate has expired: renew it on the gateway (it reloads without a restart); check this machine's clock too" };
  if (code === 'CERT_NOT_YET_VALID') return { code: 'TUNNEL_TLS_VERIFY_FAILED', hint: "the gateway's certificate is not valid yet: check this machine's clock" };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return { code: 'TUNNEL_TLS_VERIFY_FAILED', hint: `the gateway's certificate does not name the host in ${URL_ENV}: use a host name the certificate was issued for` };
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME/.test(code)) return { code: 'TUNNEL_TLS_VERIFY_FAILED', hint: `the gateway's certificate did not verify; if it comes from a private CA, set ${CA_FILE}` };
  return null;
}

function classifySocket(err: Error & { code?: string }, ctx: DialContext): Classified {
  const code = err.code ?? '';
  const host = safeHost(ctx.url);
  if (WS_OPEN_TIMEOUT.test(err.message)) {
    return {
      code: 'TUNNEL_DIAL_TIMEOUT',
      message: `the gateway at ${host} did not complete TCP, TLS and the WebSocket upgrade within ${ctx.timeoutMs} ms`,
      hint: `nothing answered in time: check that ${host} is the gateway's port (a port that accepts TCP but never speaks TLS or HTTP waits like this), that no firewall swallows the traffic, and the gateway's load; ${TIMEOUT_ENV} sets the wait`,
    };
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'EPROTO' || NOT_TLS.test(err.message)) {
    return {
      code: 'TUNNEL_DIAL_NOT_TLS',
      hint: `${host} answered without TLS (a plain-HTTP port): use the port where the gateway or its load balancer serves TLS, or ws:// if the gateway has no tls (loopback, or MCP_TUNNEL_ALLOW_INSECURE)`,
    };
  }
  if (code === 'ECONNREFUSED') return { code: 'TUNNEL_DIAL_FAILED', hint: `nothing listens at ${host}: is the gateway running, and are the host and port in ${URL_ENV} right?` };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return { code: 'TUNNEL_DIAL_FAILED', hint: `the host name in ${URL_ENV} does not resolve here: check the name and this machine's DNS` };
  if ((code === 'ECONNRESET' || /socket hang up/i.test(err.message)) && ctx.url.startsWith('ws:')) {
    return { code: 'TUNNEL_DIAL_FAILED', hint: `the connection was cut before the upgrade: if the gateway serves TLS (tls in its config), use wss:// in ${URL_ENV}` };
  }
  return { code: 'TUNNEL_DIAL_FAILED', hint: null };
}

/** `host:port` of the URL for messages (never its path's secrets: there are none, but no query either). */
function safeHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === 'wss:' ? '443' : '80')}`;
  } catch {
    return 'the gateway';
  }
}

/** The DialError for a socket or TLS error before the WebSocket opened, with its code and hint. */
export function dialFailure(err: Error & { code?: string }, ctx: DialContext): DialError {
  const c = (typeof err.code === 'string' ? classifyTls(err.code) : null) ?? classifySocket(err, ctx);
  const message = c.message ?? `could not connect to the gateway: ${err.code ? `${err.code}: ` : ''}${err.message}`;
  return new DialError(c.code, message, { permanent: false, cause: err, hint: c.hint });
}

/** The hint for an HTTP answer to the upgrade (the gateway, or something else at that URL). */
export function upgradeRefusalHint(status: number): string | null {
  if (status === 404) return `the gateway has no tunnel with the id at the end of ${URL_ENV}: check it against the gateway's tunnels[].id (or this URL is not a gateway)`;
  if (status === 429) return 'the gateway limits connections from this address: many proxies behind one NAT, or failed attempts (wrong secret) in the last minute';
  if (status === 401 || status === 403) return 'something in front of the gateway refused the upgrade: check the load balancer or reverse proxy allows WebSocket to /tunnel/';
  return `the server at ${URL_ENV} did not accept a WebSocket upgrade: is it the gateway, and does everything in between pass WebSocket?`;
}

/**
 * The hint for a failure that did not come with one (handshake refusals, closes), by its code; the
 * gateway's reason tells a wrong secret from a proof bound to another TLS session.
 */
export function hintFor(error: TunnelError): string | null {
  if (error instanceof DialError && error.hint !== null) return error.hint;
  switch (error.code) {
    case 'TUNNEL_AUTH_FAILED':
      return /not bound to this TLS session/.test(error.message)
        ? 'the secret is right but this proxy did not bind its proof to the TLS session: upgrade the proxy'
        : "wrong secret: put one of the gateway's tunnels[].secrets for this tunnel in MCP_TUNNEL_SECRET_FILE (the proxy retries at once when the file changes)";
    case 'TUNNEL_CHANNEL_BINDING_MISMATCH':
      return 'the secret may well be right: a TLS-intercepting proxy or a TLS-terminating load balancer sits between proxy and gateway; exempt the gateway from TLS inspection or use TCP passthrough';
    case 'TUNNEL_PIN_MISMATCH':
      return "the gateway's key is not in MCP_TUNNEL_PIN_SHA256: add the new key's pin (the gateway logs it as spkiSha256), see operations.md 'Pin rollover'";
    case 'TUNNEL_HANDSHAKE_TIMEOUT':
      return `the tunnel handshake did not finish in time: an overloaded gateway or a middlebox holding WebSocket messages; ${TIMEOUT_ENV} sets the wait`;
    case 'TUNNEL_UNSUPPORTED_VERSION':
      return 'proxy and gateway share no protocol version: upgrade the older one';
    case 'TUNNEL_UNKNOWN_TUNNEL':
      return upgradeRefusalHint(404);
    case 'TUNNEL_CHANNEL_BINDING_UNAVAILABLE':
      return 'the connection reached something that is not the gateway\'s own TLS (an intercepting proxy handing out plain WebSocket): exempt the gateway from TLS inspection';
    case 'TUNNEL_CHANNEL_BINDING_REQUIRED':
      return 'the gateway does not terminate TLS itself (a load balancer does): give the gateway tls, use TCP passthrough, or unset MCP_TUNNEL_REQUIRE_CHANNEL_BINDING';
    default:
      return null;
  }
}
