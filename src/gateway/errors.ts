import { TunnelError } from '../errors';

/** What the gateway answers for one of its codes (docs/errors.md, "Answered to MCP clients by the gateway"). */
export interface GatewayErrorSpec {
  /** The HTTP status; null for codes that are never answered as a status (audit/log only, a cut stream). */
  readonly status: number | null;
  /**
   * Whether the same request may simply be sent again: nothing was processed upstream, or the limit
   * that refused it frees up. Exactly the retryable codes are answered with `Retry-After`.
   */
  readonly retryable: boolean;
  /** `Retry-After` seconds when retryable (a call site may give its own, e.g. the rate limiter's wait). */
  readonly retryAfter?: number;
  readonly description: string;
}

function spec(status: number | null, description: string, retryAfter?: number): GatewayErrorSpec {
  return retryAfter === undefined ? { status, retryable: false, description } : { status, retryable: true, retryAfter, description };
}

/**
 * Registry of every code the gateway answers an MCP client with (or records for one request): its
 * status, whether it is retryable (then with a default `Retry-After`) and when it is used.
 * test/unit/docs/error-codes.test.ts checks that each is documented with this status.
 */
export const GATEWAY_ERROR_CODES = Object.freeze({
  // Identity (gateway/auth/).
  TUNNEL_UNAUTHENTICATED: spec(401, 'missing credential, or a bearer value that is no API key (nor a JWT when auth.jwt is set)'),
  TUNNEL_TOKEN_EXPIRED: spec(401, "the JWT's exp (plus clock skew) has passed"),
  TUNNEL_TOKEN_NOT_YET_VALID: spec(401, "the JWT's nbf is still ahead"),
  TUNNEL_TOKEN_ISSUER: spec(401, "the JWT's iss is not auth.jwt.issuer"),
  TUNNEL_TOKEN_AUDIENCE: spec(401, "the JWT's aud names none of auth.jwt.audience"),
  TUNNEL_TOKEN_SIGNATURE: spec(401, 'refused algorithm, no key for the kid, or a signature that does not verify'),
  TUNNEL_TOKEN_INVALID: spec(401, 'malformed JWT or claims missing / ill-typed'),
  TUNNEL_FORBIDDEN: spec(403, 'the API-key client may not use this server'),
  TUNNEL_INSUFFICIENT_SCOPE: spec(403, 'the JWT grants no access to this server'),
  TUNNEL_AUTH_UNAVAILABLE: spec(503, 'the JWKS could not be loaded and no earlier copy is cached', 5),
  // Host/Origin (gateway/host-origin.ts) and routes.
  TUNNEL_HOST_DENIED: spec(403, 'DNS-rebinding protection: Host is not a name this gateway answers to'),
  TUNNEL_ORIGIN_DENIED: spec(403, 'Origin is neither the gateway itself nor in allowedOrigins'),
  TUNNEL_METHOD_NOT_ALLOWED: spec(405, 'a method other than GET/HEAD/OPTIONS on the resource metadata'),
  TUNNEL_UNKNOWN_SERVER: spec(404, 'no server of that name is configured'),
  TUNNEL_NOT_FOUND: spec(404, 'no route, or a sub-path that is no announced legacy message endpoint'),
  TUNNEL_QUERY_CONFLICT: spec(400, 'a client query parameter names a parameter of the configured URL'),
  TUNNEL_DUPLICATE_SESSION_ID: spec(400, 'more than one Mcp-Session-Id header line'),
  TUNNEL_SESSION_NOT_FOUND: spec(404, "a session (or legacy endpoint) of another identity, or an unannounced session-routing query"),
  // Limits.
  TUNNEL_TOO_MANY_STREAMS: spec(429, 'the identity holds limits.maxOpenStreamsPerClient open GET streams', 5),
  TUNNEL_RATE_LIMITED: spec(429, "the client's token bucket is empty (Retry-After: seconds until the next token)", 1),
  TUNNEL_CONCURRENCY_LIMITED: spec(429, 'the client has maxConcurrent POST requests in flight', 1),
  // Body rules (gateway/body/) and the one reading of the body (policy/read-request.ts).
  TUNNEL_BODY_TOO_LARGE: spec(413, 'request body over limits.maxRequestBodyBytes (declared or streamed)'),
  TUNNEL_BODY_NOT_ALLOWED: spec(400, 'a request other than POST carries a body'),
  TUNNEL_DUPLICATE_CONTENT_TYPE: spec(400, 'more than one Content-Type header line'),
  TUNNEL_UNSUPPORTED_ENCODING: spec(415, 'a request body with a Content-Encoding other than identity'),
  TUNNEL_UNSUPPORTED_CONTENT_TYPE: spec(415, 'a request body whose Content-Type does not parse'),
  TUNNEL_UNSUPPORTED_CHARSET: spec(415, 'a request body whose Content-Type names a charset other than utf-8'),
  TUNNEL_INVALID_UTF8: spec(400, 'a request body (within the inspection limit) that is not UTF-8'),
  TUNNEL_DUPLICATE_JSON_KEY: spec(400, 'a JSON request body with a member name twice in one object'),
  // Policy (gateway/policy/).
  TUNNEL_TOOL_DENIED: spec(403, 'a tools/call of a tool the rule denies (answered 200 with a JSON-RPC error, 403 on a legacy endpoint)'),
  TUNNEL_HEADER_MISMATCH: spec(400, 'Mcp-Method / Mcp-Name / MCP-Protocol-Version disagree with the body (2026 era)'),
  TUNNEL_POLICY_BODY_TOO_LARGE: spec(413, 'a body under a tool rule is over policy.inspectLimitBytes'),
  TUNNEL_POLICY_INVALID_BODY: spec(400, 'a body under a tool rule is not JSON'),
  TUNNEL_POLICY_FILTER_FAILED: spec(null, 'a tools/list response could not be filtered (fails closed)'),
  TUNNEL_LEGACY_ENDPOINTS_FULL: spec(null, 'a legacy endpoint could not be registered; the GET stream is cut'),
  // The tunnel (gateway/tunnels.ts, the stream's reset code; see streamFailure).
  TUNNEL_NOT_CONNECTED: spec(503, 'no proxy of the tunnel connected within limits.connectWaitMs', 5),
  TUNNEL_STREAM_REFUSED: spec(503, 'the tunnel connection could not take the request (draining, stream limit)', 1),
  TUNNEL_HEADERS_TOO_LARGE: spec(431, "request head larger than the tunnel's maxHeaderBytes"),
  TUNNEL_UPSTREAM_UNREACHABLE: spec(502, 'the proxy could not connect to the server: the request was not processed', 1),
  TUNNEL_UPSTREAM_TIMEOUT: spec(504, 'the server sent no response head in time (the request may have run)'),
  TUNNEL_UPSTREAM_RESET: spec(502, "the server's connection broke after the request was sent"),
  TUNNEL_EGRESS_DENIED: spec(403, 'the proxy refused the target (bad URL, egress policy)'),
  TUNNEL_STREAM_RESET: spec(502, 'the proxy reset the request for another reason'),
  TUNNEL_BAD_RESPONSE_HEAD: spec(502, "the proxy's response head cannot be used"),
  TUNNEL_STREAM_PROTOCOL: spec(502, 'the proxy broke the protocol on this stream'),
  TUNNEL_CONNECTION_LOST: spec(502, 'the tunnel connection dropped while the request was in flight (it may have run)'),
  TUNNEL_INTERNAL: spec(500, 'unexpected failure in the gateway (502 when it happened in the tunnel exchange)'),
  TUNNEL_RESUME_FAILED: spec(null, 'a resumable SSE stream could not be resumed within limits.resumeWindowMs (or the upstream refused the resumption); the client connection is reset'),
  TUNNEL_CLIENT_GONE: spec(null, 'audit only: the client disconnected before the response finished'),
} satisfies Record<`TUNNEL_${string}`, GatewayErrorSpec>);

/** A code of {@link GATEWAY_ERROR_CODES}. */
export type GatewayErrorCode = keyof typeof GATEWAY_ERROR_CODES;

/** True when `code` is a gateway code (e.g. one read off an error that crossed a module boundary). */
export function isGatewayErrorCode(code: unknown): code is GatewayErrorCode {
  return typeof code === 'string' && Object.hasOwn(GATEWAY_ERROR_CODES, code);
}

export interface GatewayErrorOptions {
  /** `Retry-After` seconds instead of the code's default (retryable codes only). */
  retryAfter?: number;
  /** Only `TUNNEL_INTERNAL`: 502 when the failure happened in the tunnel exchange. */
  status?: 500 | 502;
  cause?: unknown;
}

/**
 * An error the gateway answers to an MCP client with an HTTP status and a JSON body naming the
 * server and the reason. Status, `retryable` and the default `Retry-After` come from the code's
 * entry in {@link GATEWAY_ERROR_CODES}; codes without a status (audit only) answer 502 if ever sent.
 */
export class GatewayError extends TunnelError {
  declare readonly code: GatewayErrorCode;
  readonly status: number;
  /** Seconds for `Retry-After`: set exactly when the code is retryable. */
  readonly retryAfter: number | null;
  constructor(code: GatewayErrorCode, message: string, opts: GatewayErrorOptions = {}) {
    const s: GatewayErrorSpec = GATEWAY_ERROR_CODES[code];
    super(code, message, { retryable: s.retryable, cause: opts.cause });
    this.name = 'GatewayError';
    this.status = (code === 'TUNNEL_INTERNAL' ? opts.status : undefined) ?? s.status ?? 502;
    this.retryAfter = s.retryable ? (opts.retryAfter ?? s.retryAfter ?? 1) : null;
  }
}
