import { createHash } from 'node:crypto';
import { loadGatewayConfig, type GatewayConfig } from '../../../src/config';
import { JWT_ALGORITHMS } from '../../../src/config/types';
import { configError, tempDir } from './helpers';

const SECRET = 'tunnel-secret-0123456789abcdefghijkl';
const API_KEY = 'alice-api-key-0123456789abcdefghijklm';
const API_KEY_SHA = createHash('sha256').update(API_KEY).digest('hex');

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  tmp.cleanup();
});

function base(patch: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tunnels: [{ id: 'corp', secrets: [SECRET] }],
    servers: [
      { name: 'notes', tunnel: 'corp', url: 'http://10.0.0.5:9000/mcp' },
      { name: 'files', tunnel: 'corp', url: 'http://10.0.0.6:9000/mcp' },
    ],
    clients: [{ name: 'alice', apiKeySha256: API_KEY_SHA, servers: ['notes'] }],
    ...patch,
  };
}

const load = (file: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): GatewayConfig => loadGatewayConfig({ file: tmp.write('gateway.json', file), env });
const jwks = { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'a' }] };

describe('clients: apiKey and apiKeySha256', () => {
  it('accepts a SHA-256 (normalised to lower case) or a plain key', () => {
    const c = load(base({ clients: [{ name: 'alice', apiKeySha256: API_KEY_SHA.toUpperCase(), servers: ['notes'] }, { name: 'dev', apiKey: 'dev-key-0123456789abcdefghijklmnop', servers: ['*'] }] }));
    expect(c.clients).toEqual([
      { name: 'alice', apiKeySha256: API_KEY_SHA, servers: ['notes'] },
      { name: 'dev', apiKey: 'dev-key-0123456789abcdefghijklmnop', servers: ['notes', 'files'] },
    ]);
  });

  it('requires exactly one of the two, naming the key and masking the value', () => {
    for (const client of [{ name: 'alice', servers: [] }, { name: 'alice', apiKey: API_KEY, apiKeySha256: API_KEY_SHA, servers: [] }]) {
      const err = configError(() => load(base({ clients: [client] })));
      expect(err.key).toBe('clients[0]');
      expect(err.problem).toBe('must set exactly one of apiKey and apiKeySha256');
      expect(err.message).not.toContain(API_KEY);
      expect(err.message).not.toContain(API_KEY_SHA);
    }
  });

  it('rejects a malformed hash and a hash equal to another client\'s key', () => {
    let err = configError(() => load(base({ clients: [{ name: 'alice', apiKeySha256: 'abc', servers: [] }] })));
    expect(err.key).toBe('clients[0].apiKeySha256');
    err = configError(() => load(base({ clients: [{ name: 'a', apiKey: API_KEY, servers: [] }, { name: 'b', apiKeySha256: API_KEY_SHA, servers: [] }] })));
    expect(err.key).toBe('clients[1].apiKeySha256');
    expect(err.problem).toBe('duplicate API key (same as clients[0])');
    expect(err.message).not.toContain(API_KEY_SHA);
  });
});

describe('auth', () => {
  it('defaults: no resource, no JWTs', () => {
    expect(load(base()).auth).toEqual({ resource: null, jwt: null });
  });

  it('auth.jwt with defaults; jwksFile relative to the config file; "*" expanded', () => {
    tmp.write('keys/jwks.json', jwks);
    const c = load(base({ auth: { resource: 'https://gw.example.com/', jwt: { issuer: 'https://idp/', audience: 'https://gw.example.com/mcp', jwksFile: 'keys/jwks.json', servers: [{ scope: 'mcp:all', servers: ['*'] }, { claim: 'groups', value: 'ops', servers: ['files', 'files'] }] } } }));
    expect(c.auth).toEqual({
      resource: 'https://gw.example.com',
      jwt: {
        issuer: 'https://idp/',
        audience: ['https://gw.example.com/mcp'],
        jwksUrl: null,
        jwksFile: `${tmp.dir}/keys/jwks.json`,
        clockSkewSec: 60,
        algorithms: [...JWT_ALGORITHMS],
        clientClaim: 'sub',
        scopeClaim: 'scope',
        jwksCacheSec: 600,
        jwksRefetchSec: 30,
        servers: [
          { scope: 'mcp:all', servers: ['notes', 'files'] },
          { claim: 'groups', value: 'ops', servers: ['files'] },
        ],
      },
    });
  });

  it('auth.jwt from the environment (JSON) and auth.resource from MCP_TUNNEL_AUTH_RESOURCE', () => {
    const env = { MCP_TUNNEL_AUTH_JWT: JSON.stringify({ issuer: 'https://idp/', audience: ['a', 'b'], jwksUrl: 'https://idp/jwks.json', algorithms: ['ES256'] }), MCP_TUNNEL_AUTH_RESOURCE: 'https://gw' };
    const c = load(base(), env);
    expect(c.auth?.resource).toBe('https://gw');
    expect(c.auth?.jwt).toMatchObject({ audience: ['a', 'b'], jwksUrl: 'https://idp/jwks.json', jwksFile: null, algorithms: ['ES256'] });
  });

  const bad: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['no issuer', { audience: 'a', jwksUrl: 'https://idp/j' }, 'auth.jwt.issuer', /non-empty string/],
    ['no audience', { issuer: 'i', jwksUrl: 'https://idp/j' }, 'auth.jwt.audience', /non-empty/],
    ['both jwks sources', { issuer: 'i', audience: 'a', jwksUrl: 'https://idp/j', jwksFile: 'x' }, 'auth.jwt.jwksUrl', /exactly one/],
    ['no jwks source', { issuer: 'i', audience: 'a' }, 'auth.jwt.jwksUrl', /exactly one/],
    ['plain http off loopback', { issuer: 'i', audience: 'a', jwksUrl: 'http://idp.example/j' }, 'auth.jwt.jwksUrl', /https/],
    ['HS256', { issuer: 'i', audience: 'a', jwksUrl: 'https://idp/j', algorithms: ['RS256', 'HS256'] }, 'auth.jwt.algorithms[1]', /HS\* are refused/],
    ['none', { issuer: 'i', audience: 'a', jwksUrl: 'https://idp/j', algorithms: ['none'] }, 'auth.jwt.algorithms[0]', /must be one of/],
    ['unknown key', { issuer: 'i', audience: 'a', jwksUrl: 'https://idp/j', leeway: 5 }, 'auth.jwt.leeway', /not a known option/],
    ['rule with scope and claim', { issuer: 'i', audience: 'a', jwksUrl: 'https://idp/j', servers: [{ scope: 's', claim: 'c', value: 'v', servers: ['notes'] }] }, 'auth.jwt.servers[0]', /exactly one/],
    ['a scope with a quote', { issuer: 'i', audience: 'a', jwksUrl: 'https://idp/j', servers: [{ scope: 'a"b', servers: ['notes'] }] }, 'auth.jwt.servers[0].scope', /scope token/],
    ['rule naming no server', { issuer: 'i', audience: 'a', jwksUrl: 'https://idp/j', servers: [{ scope: 's', servers: ['nope'] }] }, 'auth.jwt.servers[0].servers[0]', /no declared server/],
    ['skew out of range', { issuer: 'i', audience: 'a', jwksUrl: 'https://idp/j', clockSkewSec: -1 }, 'auth.jwt.clockSkewSec', /integer/],
  ];
  it.each(bad)('rejects %s', (_name, jwt, key, problem) => {
    const err = configError(() => load(base({ auth: { jwt } })));
    expect(err.key).toBe(key);
    expect(err.problem).toMatch(problem);
  });

  it('rejects an unreadable or empty JWKS file', () => {
    let err = configError(() => load(base({ auth: { jwt: { issuer: 'i', audience: 'a', jwksFile: 'missing.json' } } })));
    expect(err.key).toBe('auth.jwt.jwksFile');
    tmp.write('empty.json', { keys: [] });
    err = configError(() => load(base({ auth: { jwt: { issuer: 'i', audience: 'a', jwksFile: 'empty.json' } } })));
    expect(err.problem).toMatch(/at least one key/);
  });

  it('rejects a resource URL with a query', () => {
    expect(configError(() => load(base({ auth: { resource: 'https://gw/?x=1' } }))).key).toBe('auth.resource');
  });
});
