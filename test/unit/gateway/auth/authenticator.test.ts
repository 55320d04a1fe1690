import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuthError, ClientAuthenticator, type ClientIdentity } from '../../../../src/gateway/auth';
import type { GatewayAuthConfig, GatewayConfig, JwtAuthConfig } from '../../../../src/config/types';
import { LogCapture } from '../../../helpers/tunnel-harness';
import { claimsFor, hs256WithPublicKey, jwks, makeKey, signJwt, startJwksServer, unsignedJwt, type JwksServer, type TestAlg, type TestKey } from '../../../helpers/jwt';

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'https://gw.example.test/mcp';
const ALGS: TestAlg[] = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];
const keys = Object.fromEntries(ALGS.map((a) => [a, makeKey(a, `k-${a}`)])) as Record<TestAlg, TestKey>;

let dir: string;
let jwksFile: string;
const toClose: Array<{ close(): unknown }> = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-auth-'));
  jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify(jwks(...Object.values(keys))));
});
afterEach(async () => {
  for (const c of toClose.splice(0)) await c.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function jwtConfig(patch: Partial<JwtAuthConfig> = {}): JwtAuthConfig {
  return {
    issuer: ISSUER,
    audience: [AUDIENCE],
    jwksUrl: null,
    jwksFile,
    clockSkewSec: 60,
    algorithms: [...ALGS],
    clientClaim: 'sub',
    scopeClaim: 'scope',
    jwksCacheSec: 600,
    jwksRefetchSec: 30,
    servers: [
      { scope: 'mcp:notes', servers: ['notes'] },
      { claim: 'groups', value: 'admins', servers: ['notes', 'files'] },
    ],
    ...patch,
  };
}

function make(opts: { clients?: GatewayConfig['clients']; auth?: Partial<GatewayAuthConfig>; jwt?: Partial<JwtAuthConfig> | null; now?: () => number } = {}): { auth: ClientAuthenticator; logs: LogCapture } {
  const logs = new LogCapture();
  const jwt = opts.jwt === null ? null : jwtConfig(opts.jwt ?? {});
  const auth = new ClientAuthenticator({ clients: opts.clients ?? [], auth: { resource: null, jwt, ...opts.auth } }, { logger: logs.logger, now: opts.now });
  toClose.push(auth);
  return { auth, logs };
}

async function failure(p: Promise<ClientIdentity>): Promise<AuthError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AuthError);
    return err as AuthError;
  }
  throw new Error('expected an AuthError');
}

const fakeReq = (host = 'gw.local:8080'): IncomingMessage => ({ headers: { host }, socket: {} }) as unknown as IncomingMessage;
const bearer = (t: string): string => `Bearer ${t}`;
function tamperSignature(token: string): string {
  const [h, p, sig] = token.split('.') as [string, string, string];
  const bytes = Buffer.from(sig, 'base64url');
  bytes[10] = (bytes[10] ?? 0) ^ 0xff;
  return `${h}.${p}.${bytes.toString('base64url')}`;
}
function swapPayload(token: string, claims: Record<string, unknown>): string {
  const [h, , sig] = token.split('.') as [string, string, string];
  return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
}

describe('API keys', () => {
  const plain = 'plain-key-0123456789abcdefghijklmnop';
  const hashed = 'hashed-key-0123456789abcdefghijklmnop';
  const clients: GatewayConfig['clients'] = [
    { name: 'dev', apiKey: plain, servers: ['notes'] },
    { name: 'prod', apiKeySha256: createHash('sha256').update(hashed).digest('hex'), servers: ['files'] },
  ];

  it('accepts a plain key and a SHA-256 key, and names the identity', async () => {
    const { auth } = make({ clients, jwt: null });
    expect(await auth.authenticate(bearer(plain))).toEqual({ kind: 'apiKey', id: 'apiKey:dev', name: 'dev', servers: ['notes'], scopes: [], claims: {} });
    expect(await auth.authenticate(`bearer  ${hashed}`)).toMatchObject({ kind: 'apiKey', name: 'prod', servers: ['files'] });
  });

  it('warns about plain keys by client name, never the key', () => {
    const { logs } = make({ clients, jwt: null });
    const warns = logs.lines.filter((l) => l.level === 40);
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ client: 'dev' });
    expect(logs.raw.join('\n')).not.toContain(plain);
  });

  it('missing or unknown credentials → 401 TUNNEL_UNAUTHENTICATED', async () => {
    const { auth } = make({ clients, jwt: null });
    for (const h of [undefined, '', 'Bearer', `Basic ${plain}`, bearer('nope'), bearer(createHash('sha256').update(hashed).digest('hex'))]) {
      const err = await failure(auth.authenticate(h));
      expect({ code: err.code, status: err.status }).toEqual({ code: 'TUNNEL_UNAUTHENTICATED', status: 401 });
    }
    // Without auth.jwt, the challenge keeps the realm (there is no metadata to point at).
    const err = await failure(auth.authenticate(bearer('nope')));
    expect(auth.challenge(err, fakeReq(), 'notes')).toBe('Bearer realm="mcp-tunnel", error="invalid_token", error_description="unknown credential"');
    expect(auth.challenge(await failure(auth.authenticate(undefined)), fakeReq(), 'notes')).toBe('Bearer realm="mcp-tunnel"');
  });

  it('an API-key client outside its servers → 403 TUNNEL_FORBIDDEN', async () => {
    const { auth } = make({ clients, jwt: null });
    const dev = await auth.authenticate(bearer(plain));
    expect(auth.authorize(dev, 'notes')).toBeNull();
    expect(auth.authorize(dev, 'files')).toMatchObject({ code: 'TUNNEL_FORBIDDEN', status: 403 });
  });
});

describe('JWTs', () => {
  it.each(ALGS)('%s: a valid token authenticates, with scopes, claims and servers from the rules', async (alg) => {
    const { auth } = make();
    const id = await auth.authenticate(bearer(signJwt(keys[alg], claimsFor(ISSUER, AUDIENCE, { groups: ['dev', 'admins'] }))));
    expect(id).toMatchObject({ kind: 'jwt', id: `jwt:${ISSUER}#carol`, name: 'carol', scopes: ['mcp:notes'], servers: ['notes', 'files'] });
    expect(id.claims.groups).toEqual(['dev', 'admins']);
  });

  it('an audience list, an array scope claim and another client claim', async () => {
    const { auth } = make({ jwt: { scopeClaim: 'scp', clientClaim: 'client_id' } });
    const id = await auth.authenticate(bearer(signJwt(keys.ES256, claimsFor(ISSUER, ['other', AUDIENCE], { scp: ['a', 'mcp:notes'], client_id: 'bot-7' }))));
    expect(id).toMatchObject({ name: 'bot-7', scopes: ['a', 'mcp:notes'], servers: ['notes'] });
  });

  const now = Math.floor(Date.now() / 1000);
  const cases: Array<[string, () => string, string, string]> = [
    ['expired', () => signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE, { exp: now - 61 })), 'TUNNEL_TOKEN_EXPIRED', 'token expired'],
    ['not yet valid', () => signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE, { nbf: now + 120 })), 'TUNNEL_TOKEN_NOT_YET_VALID', 'token not yet valid'],
    ['issued in the future', () => signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE, { iat: now + 120 })), 'TUNNEL_TOKEN_INVALID', 'token issued in the future'],
    ['without exp', () => signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE, { exp: undefined })), 'TUNNEL_TOKEN_INVALID', 'token "exp" is missing or not a number'],
    ['wrong issuer', () => signJwt(keys.RS256, claimsFor('https://evil.example/', AUDIENCE)), 'TUNNEL_TOKEN_ISSUER', 'token issuer is not accepted'],
    ['wrong audience', () => signJwt(keys.RS256, claimsFor(ISSUER, 'https://other.example/mcp')), 'TUNNEL_TOKEN_AUDIENCE', 'token audience is not this gateway'],
    ['bad signature', () => tamperSignature(signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE))), 'TUNNEL_TOKEN_SIGNATURE', 'signature does not verify'],
    ['payload changed after signing', () => swapPayload(signJwt(keys.EdDSA, claimsFor(ISSUER, AUDIENCE)), claimsFor(ISSUER, AUDIENCE, { sub: 'admin' })), 'TUNNEL_TOKEN_SIGNATURE', 'signature does not verify'],
    ['signed by another key with the same kid', () => signJwt(makeKey('RS256', 'k-RS256'), claimsFor(ISSUER, AUDIENCE)), 'TUNNEL_TOKEN_SIGNATURE', 'signature does not verify'],
    ['alg none', () => unsignedJwt(claimsFor(ISSUER, AUDIENCE), 'k-RS256'), 'TUNNEL_TOKEN_SIGNATURE', 'algorithm "none" is not accepted'],
    ['HS256 with the public key as secret', () => hs256WithPublicKey(keys.RS256, claimsFor(ISSUER, AUDIENCE)), 'TUNNEL_TOKEN_SIGNATURE', 'algorithm "HS256" is not accepted'],
    // The JWK says RS256: it is no candidate for a PS256 header.
    ['alg swapped to another accepted one', () => signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE), { alg: 'PS256' }), 'TUNNEL_TOKEN_SIGNATURE', 'unknown signing key (kid)'],
    ['no client claim', () => signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE, { sub: undefined })), 'TUNNEL_TOKEN_INVALID', 'token has no "sub" claim naming the client'],
    ['malformed', () => 'abc.def.ghi', 'TUNNEL_TOKEN_INVALID', 'malformed token header'],
    ['crit header', () => signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE), { crit: ['x'] }), 'TUNNEL_TOKEN_INVALID', 'token header has unsupported "crit" extensions'],
  ];
  it.each(cases)('%s → 401 invalid_token', async (_name, token, code, description) => {
    const { auth } = make();
    const err = await failure(auth.authenticate(bearer(token())));
    expect({ code: err.code, status: err.status, description: err.description }).toEqual({ code, status: 401, description });
    expect(auth.challenge(err, fakeReq(), 'notes')).toBe(
      `Bearer resource_metadata="http://gw.local:8080/.well-known/oauth-protected-resource/mcp/notes", error="invalid_token", error_description="${description.replace(/"/g, '')}"`,
    );
  });

  it('an algorithm outside auth.jwt.algorithms is refused', async () => {
    const { auth } = make({ jwt: { algorithms: ['ES256'] } });
    const err = await failure(auth.authenticate(bearer(signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE)))));
    expect(err.code).toBe('TUNNEL_TOKEN_SIGNATURE');
  });

  it('clock skew: exp and nbf are tolerated within clockSkewSec', async () => {
    const { auth } = make({ jwt: { clockSkewSec: 120 } });
    await expect(auth.authenticate(bearer(signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE, { exp: now - 60, nbf: now + 60 }))))).resolves.toMatchObject({ name: 'carol' });
  });

  it('no rule matches → authenticated, but 403 insufficient_scope naming the scope that grants the server', async () => {
    const { auth } = make({ auth: { resource: 'https://gw.example.test' } });
    const id = await auth.authenticate(bearer(signJwt(keys.ES384, claimsFor(ISSUER, AUDIENCE, { scope: 'other' }))));
    expect(id.servers).toEqual([]);
    const err = auth.authorize(id, 'notes')!;
    expect({ code: err.code, status: err.status }).toEqual({ code: 'TUNNEL_INSUFFICIENT_SCOPE', status: 403 });
    expect(auth.challenge(err, fakeReq(), 'notes')).toBe(
      'Bearer resource_metadata="https://gw.example.test/.well-known/oauth-protected-resource/mcp/notes", error="insufficient_scope", error_description="token grants no access to this server", scope="mcp:notes"',
    );
  });

  it('missing credential with auth.jwt: resource_metadata only (no error, RFC 6750 §3.1); a hostile Host is left out', async () => {
    const { auth } = make();
    const err = await failure(auth.authenticate(undefined));
    expect(auth.challenge(err, fakeReq(), 'notes')).toBe('Bearer resource_metadata="http://gw.local:8080/.well-known/oauth-protected-resource/mcp/notes"');
    expect(auth.challenge(err, fakeReq('evil"host'), 'notes')).toBe('Bearer');
  });

  it('an API key still works next to JWTs', async () => {
    const key = 'api-key-next-to-jwt-0123456789abcdef';
    const { auth } = make({ clients: [{ name: 'svc', apiKey: key, servers: ['files'] }] });
    expect(await auth.authenticate(bearer(key))).toMatchObject({ kind: 'apiKey', name: 'svc' });
  });

  it('metadata: gateway and per-server forms', () => {
    const { auth } = make();
    expect(auth.metadata(fakeReq(), null)).toEqual({ resource: 'http://gw.local:8080', authorization_servers: [ISSUER], scopes_supported: ['mcp:notes'], bearer_methods_supported: ['header'] });
    expect(auth.metadata(fakeReq(), 'files')).toEqual({ resource: 'http://gw.local:8080/mcp/files', authorization_servers: [ISSUER], scopes_supported: [], bearer_methods_supported: ['header'] });
    expect(make({ jwt: null }).auth.metadata(fakeReq(), null)).toBeNull();
  });
});

describe('JWKS from a loopback URL', () => {
  let server: JwksServer;
  beforeEach(async () => {
    server = await startJwksServer(jwks(keys.RS256));
    toClose.push(server);
  });

  it('is fetched once and cached; an unknown kid refetches, at most once per jwksRefetchSec', async () => {
    let t = Date.now();
    const { auth, logs } = make({ jwt: { jwksFile: null, jwksUrl: server.url, jwksRefetchSec: 30 }, now: () => t });
    const claims = claimsFor(ISSUER, AUDIENCE);
    await auth.authenticate(bearer(signJwt(keys.RS256, claims)));
    await auth.authenticate(bearer(signJwt(keys.RS256, claims)));
    expect(server.fetches).toBe(1);

    // The issuer rotates in a new key: the first token with its kid triggers a refetch.
    const rotated = makeKey('ES256', 'rotated');
    server.set(jwks(keys.RS256, rotated));
    t += 31_000;
    await expect(auth.authenticate(bearer(signJwt(rotated, claimsFor(ISSUER, AUDIENCE))))).resolves.toMatchObject({ name: 'carol' });
    expect(server.fetches).toBe(2);

    // Forged kids do not make the gateway hammer the issuer.
    const stranger = makeKey('ES256', 'stranger');
    for (let i = 0; i < 5; i++) {
      const err = await failure(auth.authenticate(bearer(signJwt(stranger, claimsFor(ISSUER, AUDIENCE)))));
      expect(err.code).toBe('TUNNEL_TOKEN_SIGNATURE');
      expect(err.description).toBe('unknown signing key (kid)');
    }
    expect(server.fetches).toBe(2);
    t += 31_000;
    await failure(auth.authenticate(bearer(signJwt(stranger, claimsFor(ISSUER, AUDIENCE)))));
    expect(server.fetches).toBe(3);
    expect(logs.find((l) => l.msg === 'JWKS loaded')).toMatchObject({ url: server.url, keys: 1 });
  });

  it('a reload with the same jwksUrl keeps the cache; another URL or a JWKS file is loaded again', async () => {
    const first = make({ jwt: { jwksFile: null, jwksUrl: server.url } });
    const token = signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE));
    await first.auth.authenticate(bearer(token));
    const logs = new LogCapture();
    const again = new ClientAuthenticator({ clients: [], auth: { resource: null, jwt: jwtConfig({ jwksFile: null, jwksUrl: server.url }) } }, { logger: logs.logger, previous: first.auth });
    await again.authenticate(bearer(token));
    expect(server.fetches).toBe(1);
    const moved = new ClientAuthenticator({ clients: [], auth: { resource: null, jwt: jwtConfig({ jwksFile: null, jwksUrl: `${server.url}?v=2` }) } }, { logger: logs.logger, previous: again });
    toClose.push(moved);
    await moved.authenticate(bearer(token));
    expect(server.fetches).toBe(2);
  });

  it('concurrent first requests share one fetch; the cache expires after jwksCacheSec', async () => {
    let t = Date.now();
    const { auth } = make({ jwt: { jwksFile: null, jwksUrl: server.url, jwksCacheSec: 60 }, now: () => t });
    const token = signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE, { exp: Math.floor(t / 1000) + 3600 }));
    await Promise.all([1, 2, 3, 4].map(() => auth.authenticate(bearer(token))));
    expect(server.fetches).toBe(1);
    t += 61_000;
    await auth.authenticate(bearer(token));
    expect(server.fetches).toBe(2);
  });

  it('an unreachable JWKS with nothing cached → 503 TUNNEL_AUTH_UNAVAILABLE; stale keys are kept when a refresh fails', async () => {
    let t = Date.now();
    const { auth } = make({ jwt: { jwksFile: null, jwksUrl: server.url, jwksCacheSec: 60 }, now: () => t });
    const token = signJwt(keys.RS256, claimsFor(ISSUER, AUDIENCE, { exp: Math.floor(t / 1000) + 3600 }));
    await auth.authenticate(bearer(token));
    server.set({ nope: true });
    t += 61_000;
    await expect(auth.authenticate(bearer(token))).resolves.toMatchObject({ name: 'carol' });

    // A failed refresh is retried at most once per jwksRefetchSec, not on every request.
    const before = server.fetches;
    await auth.authenticate(bearer(token));
    await auth.authenticate(bearer(token));
    expect(server.fetches).toBe(before);
    t += 31_000;
    await auth.authenticate(bearer(token));
    expect(server.fetches).toBe(before + 1);

    const dead = make({ jwt: { jwksFile: null, jwksUrl: 'http://127.0.0.1:9/jwks.json' } });
    const err = await failure(dead.auth.authenticate(bearer(token)));
    expect({ code: err.code, status: err.status, retryAfter: err.retryAfter }).toEqual({ code: 'TUNNEL_AUTH_UNAVAILABLE', status: 503, retryAfter: 30 });
    await failure(dead.auth.authenticate(bearer(token)));
    expect(dead.logs.lines.filter((l) => l.msg === 'JWKS could not be loaded')).toHaveLength(1);
  });
});
