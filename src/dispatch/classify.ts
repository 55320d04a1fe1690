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

/** Codes of a connection that was never set up: connect failures, TLS handshake failures. */
function isUnreachableCode(code: string): boolean {
  return UNREACHABLE_CODES.has(code) || isTlsAlertCode(code) || code.startsWith('ERR_TLS_');
}

/** Codes only the upstream connection can produce: connect-phase failures and the headers timeout. */
function isUpstreamConnectionFailure(code: string | null): boolean {
  if (code === null) return false;
  return isUnreachableCode(code) || TIMEOUT_CODES.has(code);
}

/** One failed exchange, as the verdicts below read it. */
interface Failure {
  err: unknown;
  /** {@link underlyingCode} of `err`. */
  code: string | null;
  ctx: FailureContext;
  /** `upstream <origin> (server "<name>")`, the subject of every message. */
  target: string;
}

type ErrorFields = ConstructorParameters<typeof UpstreamError>[2];

function fieldsOf(f: Failure, cause: unknown = f.err, causeCode: string | null = f.code): ErrorFields {
  return { server: f.ctx.server, origin: f.ctx.origin, cause, causeCode };
}

function duringPhase(phase: FailureContext['phase']): string {
  return phase === 'body' ? 'while streaming the response body' : 'before the response headers';
}

/** The underlying code and, when it says more, the message: `ECONNRESET read ECONNRESET`. */
function detailOf(f: Failure): string {
  const message = underlyingMessage(f.err);
  return `${f.code ?? 'unknown'}${message === f.code ? '' : ` ${message}`}`;
}

/**
 * The verdict read from the underlying code, for a failure no context explains. The first rule whose
 * `matches` holds wins; no match (or no code at all) is `TUNNEL_UPSTREAM_FAILED`. Each message is
 * followed by `: <detail>`.
 */
interface CodeRule {
  matches: (code: string) => boolean;
  code: UpstreamErrorCode;
  message: (target: string, phase: FailureContext['phase']) => string;
}

const CODE_RULES: readonly CodeRule[] = [
  { matches: isUnreachableCode, code: UpstreamErrorCode.Unreachable, message: (t) => `cannot reach ${t}` },
  {
    matches: (c) => TIMEOUT_CODES.has(c),
    code: UpstreamErrorCode.Timeout,
    message: (t) => `${t} sent no response headers in time`,
  },
  {
    matches: (c) => RESET_CODES.has(c),
    code: UpstreamErrorCode.Reset,
    message: (t, phase) => `connection to ${t} closed ${duringPhase(phase)}`,
  },
  {
    matches: (c) => PROTOCOL_CODES.has(c) || c.startsWith('HPE_'),
    code: UpstreamErrorCode.Protocol,
    message: (t) => `invalid HTTP response from ${t}`,
  },
  {
    matches: (c) => BAD_REQUEST_CODES.has(c),
    code: UpstreamErrorCode.BadRequest,
    message: (t) => `request to ${t} cannot be sent`,
  },
  {
    matches: (c) => CLOSED_CODES.has(c),
    code: UpstreamErrorCode.Closed,
    message: (t) => `dispatcher closed; request to ${t} ended`,
  },
  { matches: (c) => ABORT_CODES.has(c), code: UpstreamErrorCode.Aborted, message: (t) => `request to ${t} aborted` },
];

/** Our own signal fired: the cause is the caller's cancellation, whatever undici reported. */
function abortedByCaller(f: Failure): UpstreamError | null {
  if (!f.ctx.aborted) return null;
  return new UpstreamError(UpstreamErrorCode.Aborted, `request to ${f.target} aborted ${duringPhase(f.ctx.phase)}`, fieldsOf(f));
}

/**
 * The request body stream failed. undici destroys the request body with its own error when the
 * exchange fails (RequestHandler .onError), so the body "emits" a connect failure or a headers timeout
 * too. A body stream cannot fail with one of those itself: those are classified by their code.
 */
function requestBodyFailure(f: Failure): UpstreamError | null {
  if (f.ctx.bodyError === undefined || f.err !== f.ctx.bodyError || isUpstreamConnectionFailure(f.code)) return null;
  return new UpstreamError(
    UpstreamErrorCode.BadRequest,
    `request body stream for ${f.target} failed: ${f.code === null ? '' : `${f.code} `}${underlyingMessage(f.err)}`,
    fieldsOf(f),
  );
}

/** The egress allowlist refused every address of the target; the decision travels with the error. */
function egressDenial(f: Failure): UpstreamError | null {
  if (f.code !== EGRESS_DENIED_CODE) return null;
  const egress = (f.err as { egress?: unknown }).egress;
  const decision = typeof egress === 'string' ? egress : 'denied';
  return new UpstreamError(UpstreamErrorCode.Forbidden, `egress policy refused ${f.target}: ${decision}`, {
    ...fieldsOf(f),
    egress: decision,
  });
}

/** A "socket closed" that a TLS alert before any response byte explains (see `TlsFailureTracker`). */
function tlsRejection(f: Failure): UpstreamError | null {
  const alert = f.ctx.tlsFailure;
  if (alert === undefined || f.code !== 'UND_ERR_SOCKET') return null;
  const tlsCode = underlyingCode(alert);
  return new UpstreamError(
    UpstreamErrorCode.Unreachable,
    `cannot reach ${f.target}: TLS handshake rejected by the server: ${tlsCode ?? 'unknown'} ${alert.message}`,
    fieldsOf(f, alert, tlsCode),
  );
}

/** The verdict of {@link CODE_RULES}. */
function byUnderlyingCode(f: Failure): UpstreamError {
  const { code } = f;
  const rule = code === null ? undefined : CODE_RULES.find((r) => r.matches(code));
  if (rule === undefined) {
    return new UpstreamError(UpstreamErrorCode.Failed, `request to ${f.target} failed: ${detailOf(f)}`, fieldsOf(f));
  }
  return new UpstreamError(rule.code, `${rule.message(f.target, f.ctx.phase)}: ${detailOf(f)}`, fieldsOf(f));
}

/**
 * Maps whatever undici, Node or a body stream threw into an {@link UpstreamError} with a stable code.
 * An error that already is one is returned unchanged. What the context knows decides first, in this
 * order: the caller's abort, a failed request body, an egress denial, a TLS alert behind a closed
 * socket; otherwise the underlying code does ({@link CODE_RULES}). See `UPSTREAM_ERROR_CODES` for the
 * codes.
 */
export function classifyUpstreamError(err: unknown, ctx: FailureContext): UpstreamError {
  if (isUpstreamError(err)) return err;
  const f: Failure = { err, code: underlyingCode(err), ctx, target: `upstream ${ctx.origin} (server "${ctx.server}")` };
  return abortedByCaller(f) ?? requestBodyFailure(f) ?? egressDenial(f) ?? tlsRejection(f) ?? byUnderlyingCode(f);
}
