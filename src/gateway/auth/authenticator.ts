import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { GatewayAuthConfig, GatewayConfig, JwtAuthConfig, JwtServerRule } from '../../config/types';
import { F, type Logger } from '../../log';
import { ApiKeyAuthenticator, plainKeyClients } from './api-keys';
import { AuthCode, AuthError, invalidToken } from './errors';
import { clientMayUse, type ClientIdentity } from './identity';
import { JwksSource } from './jwks';
import { acceptedAlgorithm, checkClaims, decodeJwt, looksLikeJwt, scopesOf, verifySignature } from './jwt';

export interface AuthenticatorDeps {
  logger: Logger;
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /**
   * The authenticator this one replaces (configuration reload): its JWKS cache is kept when the
   * `jwksUrl` and its timings are unchanged. A `jwksFile` is always read again.
   */
  previous?: ClientAuthenticator;
}

/** Path of the protected resource metadata (RFC 9728 §3). */
export const METADATA_PATH = '/.well-known/oauth-protected-resource';

function ruleMatches(rule: JwtServerRule, scopes: readonly string[], claims: Record<string, unknown>): boolean {
  if (rule.scope !== undefined) return scopes.includes(rule.scope);
  if (rule.claim === undefined) return false;
  const v = claims[rule.claim];
  return Array.isArray(v) ? v.includes(rule.value) : v === rule.value;
}

/** Host header value safe to put in a URL and a quoted header parameter, or null. */
function safeHost(host: string | undefined): string | null {
  return host !== undefined && /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host) ? host : null;
}

/**
 * Client authentication and the server check: API keys (`clients[]`) and, when `auth.jwt` is set,
 * OAuth 2.1 bearer JWTs. Built from one configuration; a reload builds a new one (and closes the old).
 */
export class ClientAuthenticator {
  private readonly apiKeys: ApiKeyAuthenticator;
  private readonly jwt: JwtAuthConfig | null;
  private readonly jwks: JwksSource | null;
  private readonly resource: string | null;
  private readonly now: () => number;

  constructor(config: Pick<GatewayConfig, 'clients' | 'auth'>, deps: AuthenticatorDeps) {
    const auth: GatewayAuthConfig = config.auth ?? { resource: null, jwt: null };
    this.apiKeys = new ApiKeyAuthenticator(config.clients);
    this.jwt = auth.jwt;
    this.resource = auth.resource;
    this.now = deps.now ?? Date.now;
    const jwt = auth.jwt;
    const old = deps.previous;
    const oldJwt = old?.jwt ?? null;
    const sameUrl = jwt !== null && jwt.jwksUrl !== null && oldJwt !== null && oldJwt.jwksUrl === jwt.jwksUrl && oldJwt.jwksCacheSec === jwt.jwksCacheSec && oldJwt.jwksRefetchSec === jwt.jwksRefetchSec;
    const reused = sameUrl ? (old?.jwks ?? null) : null;
    this.jwks = jwt === null ? null : reused ?? new JwksSource({ url: jwt.jwksUrl, file: jwt.jwksFile, cacheSec: jwt.jwksCacheSec, refetchSec: jwt.jwksRefetchSec, logger: deps.logger, now: this.now });
    for (const name of plainKeyClients(config.clients)) {
      deps.logger.warn({ [F.client]: name }, 'client has a plain "apiKey" in the configuration; store "apiKeySha256" instead (plain keys are for development only)');
    }
  }

  /** Whether bearer JWTs are accepted (and protected resource metadata is served). */
  get oauth(): boolean {
    return this.jwt !== null;
  }

  /**
   * The client for an `Authorization` header value.
   * @throws AuthError: 401 (TUNNEL_UNAUTHENTICATED or TUNNEL_TOKEN_*), or 503 TUNNEL_AUTH_UNAVAILABLE.
   */
  async authenticate(authorization: string | undefined): Promise<ClientIdentity> {
    const m = authorization === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    const token = m?.[1];
    if (!token) {
      throw new AuthError(AuthCode.unauthenticated, `missing bearer credential (send Authorization: Bearer <${this.jwt ? 'token or API key' : 'API key'}>)`);
    }
    const byKey = this.apiKeys.match(token);
    if (byKey) return byKey;
    if (this.jwt === null || !looksLikeJwt(token)) {
      throw new AuthError(AuthCode.unauthenticated, 'invalid API key', { oauthError: 'invalid_token', description: 'unknown credential' });
    }
    return this.verifyJwt(token, this.jwt);
  }

  /** Null when `client` may call `server`; else the 403 to answer. */
  authorize(client: ClientIdentity, server: string): AuthError | null {
    if (clientMayUse(client, server)) return null;
    if (client.kind !== 'jwt') return new AuthError(AuthCode.forbidden, `client "${client.name}" may not use server "${server}"`);
    const scope = this.scopesFor(server);
    return new AuthError(AuthCode.insufficientScope, `token of "${client.name}" grants no access to server "${server}"`, {
      oauthError: 'insufficient_scope',
      description: 'token grants no access to this server',
      scope,
    });
  }

  /** `WWW-Authenticate` for a 401 or 403 answered for `server` (RFC 6750 §3, RFC 9728 §5.1). */
  challenge(err: { code: string; status: number }, req: IncomingMessage, server: string): string {
    const params: string[] = [];
    if (this.jwt !== null) {
      const base = this.baseUrl(req);
      if (base !== null) params.push(`resource_metadata="${base}${METADATA_PATH}/mcp/${server}"`);
    } else {
      params.push('realm="mcp-tunnel"');
    }
    if (err instanceof AuthError && err.oauthError !== null) {
      params.push(`error="${err.oauthError}"`, `error_description="${err.description.replace(/["\\]/g, '')}"`);
      if (err.scope.length > 0) params.push(`scope="${err.scope.join(' ')}"`);
    }
    return params.length === 0 ? 'Bearer' : `Bearer ${params.join(', ')}`;
  }

  /**
   * RFC 9728 protected resource metadata for the gateway (`server` null) or one server, or null
   * when JWTs are not configured. Whether `server` is declared is the caller's check.
   */
  metadata(req: IncomingMessage, server: string | null): Record<string, unknown> | null {
    if (this.jwt === null) return null;
    const base = this.baseUrl(req) ?? '';
    const scopes = server === null ? [...new Set(this.jwt.servers.flatMap((r) => (r.scope !== undefined ? [r.scope] : [])))] : this.scopesFor(server);
    return {
      resource: server === null ? base : `${base}/mcp/${server}`,
      authorization_servers: [this.jwt.issuer],
      scopes_supported: scopes,
      bearer_methods_supported: ['header'],
    };
  }

  /** Aborts JWKS loads in flight. */
  close(): void {
    this.jwks?.close();
  }

  /** Scopes that grant `server` through a `scope` rule. */
  private scopesFor(server: string): string[] {
    return [...new Set((this.jwt?.servers ?? []).flatMap((r) => (r.scope !== undefined && r.servers.includes(server) ? [r.scope] : [])))];
  }

  /**
   * The public base URL: `auth.resource`, else scheme and Host of the request (the socket's local
   * address when the Host is missing or unusable); null when neither is known.
   */
  private baseUrl(req: IncomingMessage): string | null {
    if (this.resource !== null) return this.resource;
    const socket = req.socket as Partial<TLSSocket>;
    const local = socket.localAddress && socket.localPort ? `${socket.localAddress.includes(':') ? `[${socket.localAddress}]` : socket.localAddress}:${socket.localPort}` : null;
    const host = safeHost(req.headers.host) ?? safeHost(local ?? undefined);
    if (host === null) return null;
    return `${socket.encrypted ? 'https' : 'http'}://${host}`;
  }

  private async verifyJwt(token: string, cfg: JwtAuthConfig): Promise<ClientIdentity> {
    const jwt = decodeJwt(token);
    const alg = acceptedAlgorithm(jwt.header, cfg.algorithms);
    const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid : null;
    const keys = await this.jwks!.candidates(kid, alg);
    if (keys.length === 0) throw invalidToken(AuthCode.tokenSignature, kid === null ? 'no signing key fits the token' : 'unknown signing key (kid)');
    if (!keys.some((k) => verifySignature(jwt, alg, k))) throw invalidToken(AuthCode.tokenSignature, 'signature does not verify');
    checkClaims(jwt.claims, { issuer: cfg.issuer, audience: cfg.audience, clockSkewSec: cfg.clockSkewSec, nowSec: Math.floor(this.now() / 1000) });
    const name = jwt.claims[cfg.clientClaim];
    if (typeof name !== 'string' || name === '') throw invalidToken(AuthCode.tokenInvalid, `token has no "${cfg.clientClaim}" claim naming the client`);
    const scopes = scopesOf(jwt.claims[cfg.scopeClaim]);
    const servers = [...new Set(cfg.servers.filter((r) => ruleMatches(r, scopes, jwt.claims)).flatMap((r) => r.servers))];
    return { kind: 'jwt', id: `jwt:${cfg.issuer}#${name}`, name, servers, scopes, claims: jwt.claims };
  }
}
