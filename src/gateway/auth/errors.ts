import { GatewayError, type GatewayErrorCode } from '../errors';

/** Codes of client authentication and authorization failures (docs/errors.md). */
export const AuthCode = {
  /** No credential, or an API key / token that is neither a configured key nor a JWT. */
  unauthenticated: 'TUNNEL_UNAUTHENTICATED',
  /** The JWT's `exp` (plus clock skew) has passed. */
  tokenExpired: 'TUNNEL_TOKEN_EXPIRED',
  /** The JWT's `nbf` (minus clock skew) is still ahead. */
  tokenNotYetValid: 'TUNNEL_TOKEN_NOT_YET_VALID',
  /** The JWT's `iss` is not `auth.jwt.issuer`. */
  tokenIssuer: 'TUNNEL_TOKEN_ISSUER',
  /** The JWT's `aud` names none of `auth.jwt.audience`. */
  tokenAudience: 'TUNNEL_TOKEN_AUDIENCE',
  /** Refused algorithm, no key for the `kid`, or a signature that does not verify. */
  tokenSignature: 'TUNNEL_TOKEN_SIGNATURE',
  /** Malformed token, or claims missing or ill-typed. */
  tokenInvalid: 'TUNNEL_TOKEN_INVALID',
  /** The JWT is valid but grants no access to this server. */
  insufficientScope: 'TUNNEL_INSUFFICIENT_SCOPE',
  /** An API-key client may not use this server. */
  forbidden: 'TUNNEL_FORBIDDEN',
  /** The JWKS could not be loaded and no earlier copy is cached. */
  unavailable: 'TUNNEL_AUTH_UNAVAILABLE',
} as const satisfies Record<string, GatewayErrorCode>;

/** A code of {@link AuthCode}. */
export type AuthCode = (typeof AuthCode)[keyof typeof AuthCode];

/**
 * A failed authentication (401), authorization (403) or key lookup (503); the status comes from the code's entry in GATEWAY_ERROR_CODES. `description` is the
 * short, credential-free text for `error_description`; `scope` the scopes that would grant access.
 */
export class AuthError extends GatewayError {
  /** RFC 6750 error code for `WWW-Authenticate`, or null when no credential was presented. */
  readonly oauthError: 'invalid_token' | 'insufficient_scope' | null;
  readonly description: string;
  readonly scope: readonly string[];

  constructor(
    code: AuthCode,
    message: string,
    opts: { oauthError?: AuthError['oauthError']; description?: string; scope?: readonly string[]; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(code, message, { retryAfter: opts.retryAfter, cause: opts.cause });
    this.name = 'AuthError';
    this.oauthError = opts.oauthError ?? null;
    this.description = opts.description ?? message;
    this.scope = opts.scope ?? [];
  }
}

/** A 401 for a presented but unacceptable token. */
export function invalidToken(code: AuthCode, description: string, cause?: unknown): AuthError {
  return new AuthError(code, `invalid bearer token: ${description}`, { oauthError: 'invalid_token', description, cause });
}
