import { constants, verify, type KeyObject } from 'node:crypto';
import { JWT_ALGORITHMS, type JwtAlgorithm } from '../../config/types';
import { AuthCode, invalidToken } from './errors';

/** Decoded, not yet verified parts of a compact JWS. */
export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** `base64url(header) "." base64url(payload)`: the signed bytes. */
  signingInput: Buffer;
  signature: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]+$/;
/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_CHARS = 16 * 1024;

/** Whether `token` has the shape of a compact JWS (three base64url parts). Cheap; verifies nothing. */
export function looksLikeJwt(token: string): boolean {
  const parts = token.split('.');
  // An empty signature is still a JWT (`alg: none`): recognised here, refused by acceptedAlgorithm.
  return parts.length === 3 && B64URL.test(parts[0] ?? '') && B64URL.test(parts[1] ?? '') && (parts[2] === '' || B64URL.test(parts[2] ?? ''));
}

function jsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken(AuthCode.tokenInvalid, `malformed token ${what}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidToken(AuthCode.tokenInvalid, `malformed token ${what}`);
  return value as Record<string, unknown>;
}

/** Splits and parses a compact JWS. @throws AuthError TUNNEL_TOKEN_INVALID when malformed. */
export function decodeJwt(token: string): DecodedJwt {
  if (token.length > MAX_TOKEN_CHARS || !looksLikeJwt(token)) throw invalidToken(AuthCode.tokenInvalid, 'malformed token');
  const [h, p, s] = token.split('.') as [string, string, string];
  return { header: jsonObject(h, 'header'), claims: jsonObject(p, 'payload'), signingInput: Buffer.from(`${h}.${p}`, 'ascii'), signature: Buffer.from(s, 'base64url') };
}

/** Header `typ` values accepted: absent, plain JWT, or an OAuth access token (RFC 9068). */
const ACCEPTED_TYP = new Set(['jwt', 'at+jwt', 'application/at+jwt']);

/**
 * The header's algorithm if it is one of `allowed`. `none`, HS* (a public key used as an HMAC
 * secret is the classic JWT forgery) and anything else are refused, whatever the configuration says.
 */
export function acceptedAlgorithm(header: Record<string, unknown>, allowed: readonly JwtAlgorithm[]): JwtAlgorithm {
  const alg = header.alg;
  if (typeof alg !== 'string') throw invalidToken(AuthCode.tokenInvalid, 'token header has no "alg"');
  if (!(JWT_ALGORITHMS as readonly string[]).includes(alg) || !(allowed as readonly string[]).includes(alg)) {
    throw invalidToken(AuthCode.tokenSignature, `algorithm "${alg.slice(0, 16)}" is not accepted`);
  }
  if (header.crit !== undefined) throw invalidToken(AuthCode.tokenInvalid, 'token header has unsupported "crit" extensions');
  if (header.typ !== undefined && (typeof header.typ !== 'string' || !ACCEPTED_TYP.has(header.typ.toLowerCase()))) {
    throw invalidToken(AuthCode.tokenInvalid, 'token "typ" is not JWT or at+jwt');
  }
  return alg as JwtAlgorithm;
}

const HASH: Record<JwtAlgorithm, string | null> = {
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  PS256: 'sha256',
  ES256: 'sha256',
  ES384: 'sha384',
  EdDSA: null,
};

/** Whether `key` is the kind of key `alg` needs (RSA ≥ 2048 bits, the right curve, Ed25519/Ed448). */
export function keyFitsAlgorithm(key: KeyObject, alg: JwtAlgorithm): boolean {
  if (key.type !== 'public') return false;
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  switch (alg) {
    case 'RS256':
    case 'RS384':
    case 'RS512':
      return type === 'rsa' && (details.modulusLength ?? 0) >= 2048;
    case 'PS256':
      return (type === 'rsa' || type === 'rsa-pss') && (details.modulusLength ?? 0) >= 2048;
    case 'ES256':
      return type === 'ec' && details.namedCurve === 'prime256v1';
    case 'ES384':
      return type === 'ec' && details.namedCurve === 'secp384r1';
    case 'EdDSA':
      return type === 'ed25519' || type === 'ed448';
  }
}

/** Verifies a JWS signature with node:crypto. False (never a throw) for a wrong key or signature. */
export function verifySignature(jwt: DecodedJwt, alg: JwtAlgorithm, key: KeyObject): boolean {
  if (!keyFitsAlgorithm(key, alg)) return false;
  try {
    if (alg === 'ES256' || alg === 'ES384') {
      if (jwt.signature.length !== (alg === 'ES256' ? 64 : 96)) return false;
      return verify(HASH[alg], jwt.signingInput, { key, dsaEncoding: 'ieee-p1363' }, jwt.signature);
    }
    if (alg === 'PS256') {
      return verify('sha256', jwt.signingInput, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, jwt.signature);
    }
    if (alg === 'EdDSA') return verify(null, jwt.signingInput, key, jwt.signature);
    return verify(HASH[alg], jwt.signingInput, { key, padding: constants.RSA_PKCS1_PADDING }, jwt.signature);
  } catch {
    return false;
  }
}

export interface ClaimRules {
  issuer: string;
  audience: readonly string[];
  clockSkewSec: number;
  /** Current time in seconds since the epoch. */
  nowSec: number;
}

function numericDate(claims: Record<string, unknown>, name: string, required: boolean): number | null {
  const v = claims[name];
  if (v === undefined && !required) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidToken(AuthCode.tokenInvalid, `token "${name}" is missing or not a number`);
  return v;
}

/**
 * Checks `iss`, `aud`, `exp` (required), `nbf` and `iat` (optional) against the rules, with the clock
 * skew. Call only after the signature verified. @throws AuthError with the specific code.
 */
export function checkClaims(claims: Record<string, unknown>, rules: ClaimRules): void {
  if (claims.iss !== rules.issuer) throw invalidToken(AuthCode.tokenIssuer, 'token issuer is not accepted');
  const aud = claims.aud;
  const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  if (!auds.some((a) => rules.audience.includes(a))) throw invalidToken(AuthCode.tokenAudience, 'token audience is not this gateway');
  const skew = rules.clockSkewSec;
  const exp = numericDate(claims, 'exp', true)!;
  if (rules.nowSec >= exp + skew) throw invalidToken(AuthCode.tokenExpired, 'token expired');
  const nbf = numericDate(claims, 'nbf', false);
  if (nbf !== null && rules.nowSec + skew < nbf) throw invalidToken(AuthCode.tokenNotYetValid, 'token not yet valid');
  const iat = numericDate(claims, 'iat', false);
  if (iat !== null && iat > rules.nowSec + skew) throw invalidToken(AuthCode.tokenInvalid, 'token issued in the future');
}

/** The scopes in `claim`: a space-separated string (RFC 9068 `scope`) or an array of strings (`scp`). */
export function scopesOf(claim: unknown): string[] {
  if (typeof claim === 'string') return claim.split(' ').filter((s) => s !== '');
  if (Array.isArray(claim)) return claim.filter((s): s is string => typeof s === 'string' && s !== '');
  return [];
}
