import { EGRESS_DENIED_CODE } from './egress';
import { UpstreamError, UpstreamErrorCode, isUpstreamError } from './errors';

/** What the classifier knows about the exchange that failed. */
export interface FailureContext {
  server: string;
  origin: string;
  /** The request's own signal fired: whatever undici reports, the cause is ours. */
  aborted: boolean;
  /** The error the request body stream emitted, if it did (undici fails the request with it). */
  bodyError?: unknown;
  /**
   * A TLS alert the server sent on the failed connection before any response byte (TLS 1.3 servers
   * reject a client certificate only after the client's handshake completed; undici then reports a
   * plain `UND_ERR_SOCKET`). See `TlsFailureTracker`.
   */
  tlsFailure?: Error;
  /** `headers` while waiting for the response head, `body` while streaming the response body. */
  phase: 'headers' | 'body';
}

/** Connection could not be set up: nothing reached the upstream application. */
const UNREACHABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
  // Node's and OpenSSL's certificate verification failures (tls.connect / checkServerIdentity).
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
  // Plus every ERR_SSL_* (OpenSSL alert / handshake error) and ERR_TLS_* code, see classifyUpstreamError.
]);

/** Connection existed and broke: the request may have been processed. */
const RESET_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_SOCKET',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  // Also raised by TCP keep-alive probes on an established connection, so not "unreachable".
  'ETIMEDOUT',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

const PROTOCOL_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_HEADERS_OVERFLOW',
  'UND_ERR_RES_EXCEEDED_MAX_SIZE',
  'UND_ERR_INFO',
]);

const BAD_REQUEST_CODES: ReadonlySet<string> = new Set([
  'UND_ERR_INVALID_ARG',
  'UND_ERR_NOT_SUPPORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
]);

const CLOSED_CODES: ReadonlySet<string> = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED']);

const ABORT_CODES: ReadonlySet<string> = new Set(['UND_ERR_ABORTED', 'UND_ERR_ABORT', 'ABORT_ERR']);

/**
 * The Node/undici code of `err`. An `AggregateError` (Node's happy-eyeballs connect tried several
 * addresses) without its own code yields its first inner error's code.
 */
export function underlyingCode(err: unknown): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code !== '') return code;
  const inner = (err as { errors?: unknown }).errors;
  if (Array.isArray(inner) && inner.length > 0) return underlyingCode(inner[0]);
  if ((err as { name?: unknown }).name === 'AbortError') return 'ABORT_ERR';
  return null;
}

function underlyingMessage(err: unknown): string {
  if (err instanceof Error) {
    if (err.message !== '') return err.message;
    const inner = (err as { errors?: unknown }).errors;
    if (Array.isArray(inner) && inner[0] instanceof Error) return inner[0].message;
    return err.name;
  }
  return String(err);
}

/** True for OpenSSL errors surfaced by Node (`ERR_SSL_*`), i.e. TLS alerts and handshake failures. */
export function isTlsAlertCode(code: string | null): boolean {
  return code !== null && code.startsWith('ERR_SSL_');
}

/** Codes only the upstream connection can produce: connect-phase failures and the headers timeout. */
function isUpstreamConnectionFailure(code: string | null): boolean {
  if (code === null) return false;
  return UNREACHABLE_CODES.has(code) || isTlsAlertCode(code) || code.startsWith('ERR_TLS_') || TIMEOUT_CODES.has(code);
}

/**
 * Maps whatever undici, Node or a body stream threw into an {@link UpstreamError} with a stable code.
 * An error that already is one is returned unchanged. See `UPSTREAM_ERROR_CODES` for the table.
 */
export function classifyUpstreamError(err: unknown, ctx: FailureContext): UpstreamError {
  if (isUpstreamError(err)) return err;
  const { server, origin } = ctx;
  const fields = (cause: unknown, causeCode: string | null): ConstructorParameters<typeof UpstreamError>[2] => ({
    server,
    origin,
    cause,
    causeCode,
  });
  const target = `upstream ${origin} (server "${server}")`;

  if (ctx.aborted) {
    return new UpstreamError(
      UpstreamErrorCode.Aborted,
      `request to ${target} aborted ${ctx.phase === 'body' ? 'while streaming the response body' : 'before the response headers'}`,
      fields(err, underlyingCode(err)),
    );
  }
  // undici destroys the request body with its own error when the exchange fails (RequestHandler
  // .onError), so the body "emits" a connect failure or a headers timeout too. A body stream cannot
  // fail with one of those itself: classify them by their code, not as a body failure.
  if (ctx.bodyError !== undefined && err === ctx.bodyError && !isUpstreamConnectionFailure(underlyingCode(err))) {
    const code = underlyingCode(err);
    return new UpstreamError(
      UpstreamErrorCode.BadRequest,
      `request body stream for ${target} failed: ${code === null ? '' : `${code} `}${underlyingMessage(err)}`,
      fields(err, code),
    );
  }

  const code = underlyingCode(err);
  if (code === EGRESS_DENIED_CODE) {
    const egress = (err as { egress?: unknown }).egress;
    const decision = typeof egress === 'string' ? egress : 'denied';
    return new UpstreamError(UpstreamErrorCode.Forbidden, `egress policy refused ${target}: ${decision}`, { ...fields(err, code), egress: decision });
  }
  const detail = `${code ?? 'unknown'}${underlyingMessage(err) === code ? '' : ` ${underlyingMessage(err)}`}`;

  if (ctx.tlsFailure !== undefined && code === 'UND_ERR_SOCKET') {
    const tlsCode = underlyingCode(ctx.tlsFailure);
    return new UpstreamError(
      UpstreamErrorCode.Unreachable,
      `cannot reach ${target}: TLS handshake rejected by the server: ${tlsCode ?? 'unknown'} ${ctx.tlsFailure.message}`,
      fields(ctx.tlsFailure, tlsCode),
    );
  }
  if (code === null) {
    return new UpstreamError(UpstreamErrorCode.Failed, `request to ${target} failed: ${detail}`, fields(err, null));
  }
  if (UNREACHABLE_CODES.has(code) || isTlsAlertCode(code) || code.startsWith('ERR_TLS_')) {
    return new UpstreamError(UpstreamErrorCode.Unreachable, `cannot reach ${target}: ${detail}`, fields(err, code));
  }
  if (TIMEOUT_CODES.has(code)) {
    return new UpstreamError(
      UpstreamErrorCode.Timeout,
      `${target} sent no response headers in time: ${detail}`,
      fields(err, code),
    );
  }
  if (RESET_CODES.has(code)) {
    return new UpstreamError(
      UpstreamErrorCode.Reset,
      `connection to ${target} closed ${ctx.phase === 'body' ? 'while streaming the response body' : 'before the response headers'}: ${detail}`,
      fields(err, code),
    );
  }
  if (PROTOCOL_CODES.has(code) || code.startsWith('HPE_')) {
    return new UpstreamError(UpstreamErrorCode.Protocol, `invalid HTTP response from ${target}: ${detail}`, fields(err, code));
  }
  if (BAD_REQUEST_CODES.has(code)) {
    return new UpstreamError(
      UpstreamErrorCode.BadRequest,
      `request to ${target} cannot be sent: ${detail}`,
      fields(err, code),
    );
  }
  if (CLOSED_CODES.has(code)) {
    return new UpstreamError(UpstreamErrorCode.Closed, `dispatcher closed; request to ${target} ended: ${detail}`, fields(err, code));
  }
  if (ABORT_CODES.has(code)) {
    return new UpstreamError(UpstreamErrorCode.Aborted, `request to ${target} aborted: ${detail}`, fields(err, code));
  }
  return new UpstreamError(UpstreamErrorCode.Failed, `request to ${target} failed: ${detail}`, fields(err, code));
}
