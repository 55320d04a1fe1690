/**
 * Client authentication at the gateway's front door: API keys (plain or SHA-256) and OAuth 2.1
 * bearer JWTs verified against a JWKS, the 401/403 challenges, and protected resource metadata.
 */
export { ClientAuthenticator, METADATA_PATH, type AuthenticatorDeps } from './authenticator';
export { clientMayUse, type ClientIdentity } from './identity';
export { AuthCode, AuthError } from './errors';
export { JwksSource, parseJwks, MAX_JWKS_BYTES, type JwksSourceOptions } from './jwks';
export { decodeJwt, looksLikeJwt, acceptedAlgorithm, verifySignature, checkClaims, scopesOf, keyFitsAlgorithm } from './jwt';
export { ApiKeyAuthenticator, plainKeyClients } from './api-keys';
