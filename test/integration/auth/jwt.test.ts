/**
 * Client authentication end to end (issue 4, item 1; passthrough item 17): bearer JWTs verified
 * against a JWKS served from loopback or read from a file, API keys plain and hashed, 401/403 with
 * the right `WWW-Authenticate`, protected resource metadata, reload, and no credential upstream or
 * in any log line.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JwtAuthConfig } from '../../../src/config/types';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { Resources } from '../../helpers';
import { claimsFor, hs256WithPublicKey, jwks, makeKey, signJwt, startJwksServer, unsignedJwt, type JwksServer } from '../../helpers/jwt';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'mcp-tunnel-gateway';
const rs = makeKey('RS256', 'rs-1');
const es = makeKey('ES256', 'es-1');

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: { error?: { message: string; data: { code: string; server: string | null } } } & Record<string, unknown>;
}

function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'POST', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Reply['json'] = {};
        try {
          json = JSON.parse(text) as Reply['json'];
        } catch {
          json = {};
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const PING = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
const post = (token: string): { headers: Record<string, string>; body: string } => ({
  headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
  body: PING,
});

describe('client authentication', () => {
  const res = new Resources();
  afterEach(() => res.closeAll());
  let upstream: StreamableUpstreamHandle;
  let idp: JwksServer;
  let h: Harness;
  const hashedKey = randomBytes(24).toString('base64url');
  const issued: string[] = [];
  const tok = (key = rs, extra: Record<string, unknown> = {}): string => {
    const t = signJwt(key, claimsFor(ISSUER, AUDIENCE, extra));
    issued.push(t);
    return t;
  };

  function jwtConfig(patch: Partial<JwtAuthConfig> = {}): JwtAuthConfig {
    return {
      issuer: ISSUER,
      audience: [AUDIENCE],
      jwksUrl: idp.url,
      jwksFile: null,
      clockSkewSec: 60,
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      clientClaim: 'sub',
      scopeClaim: 'scope',
      jwksCacheSec: 600,
      jwksRefetchSec: 0,
      servers: [
        { scope: 'mcp:notes', servers: ['notes', 'echo'] },
        { claim: 'groups', value: 'admins', servers: ['notes', 'echo', 'files'] },
      ],
      ...patch,
    };
  }

  async function start(patch: Partial<JwtAuthConfig> | null = {}): Promise<void> {
    upstream = res.add(await startStreamableUpstream());
    idp = res.add(await startJwksServer(jwks(rs, es)));
    h = res.add(
      await startHarness({
        servers: [
          { name: 'notes', url: upstream.url },
          { name: 'echo', url: `${upstream.origin}/raw/echo-headers` },
          { name: 'files', url: `${upstream.origin}/raw/echo-headers` },
        ],
        gateway: (c) => {
          c.clients.push({ name: 'ci', apiKeySha256: createHash('sha256').update(hashedKey).digest('hex'), servers: ['echo'] });
          c.auth = { resource: null, jwt: patch === null ? null : jwtConfig(patch) };
        },
      }),
    );
  }

  const url = (server: string): string => h.mcpUrl(server).toString();
  const metadataUrl = (server: string): string => `${h.gateway.url}/.well-known/oauth-protected-resource/mcp/${server}`;

  afterAll(() => {
    // No credential in any log line or audit record written by these tests.
    expect(issued.length).toBeGreaterThan(10);
  });

  function expectNoSecretsLogged(): void {
    const all = [...h.logs.raw, ...h.gatewayAudit.raw, ...h.proxyAudit.raw].join('\n');
    for (const secret of [...issued, h.apiKey, hashedKey, h.secret]) expect(all).not.toContain(secret);
    // Nor a token's signature alone.
    for (const t of issued) if (t.split('.')[2]) expect(all).not.toContain(t.split('.')[2]!);
  }

  it('SDK client with a valid JWT: initialize, tools/call and DELETE pass; the token never reaches upstream', async () => {
    await start();
    const client = new Client({ name: 'jwt-client', version: '1' });
    const transport = new StreamableHTTPClientTransport(h.mcpUrl('notes'), { requestInit: { headers: { Authorization: `Bearer ${tok(es)}` } } });
    await client.connect(transport);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'via jwt' } });
    expect(JSON.stringify(result.content)).toContain('via jwt');
    await transport.terminateSession();
    await client.close();
    for (const r of upstream.state.requests) {
      expect(r.headers.authorization).toBeUndefined();
      for (const t of issued) expect(r.rawHeaders.join('\n')).not.toContain(t);
    }
    const echoed = await request(url('echo'), post(tok(rs)));
    expect(echoed.status).toBe(200);
    expect((echoed.json.headers as Record<string, string>).authorization).toBeUndefined();
    expect(h.gatewayAudit.find((l) => l.client === 'carol' && l.server === 'notes')).toBeDefined();
    expectNoSecretsLogged();
  });

  it('SDK client with an expired JWT gets 401 and connects nowhere', async () => {
    await start();
    const expired = tok(rs, { exp: Math.floor(Date.now() / 1000) - 3600 });
    const client = new Client({ name: 'jwt-client', version: '1' });
    const transport = new StreamableHTTPClientTransport(h.mcpUrl('notes'), { requestInit: { headers: { Authorization: `Bearer ${expired}` } } });
    // Without an OAuth provider the SDK surfaces the gateway's error body.
    await expect(client.connect(transport)).rejects.toThrow(/TUNNEL_TOKEN_EXPIRED/);
    await client.close();
    expect(upstream.state.requestCount).toBe(0);
  });

  it('every bad token → 401 with invalid_token and resource_metadata; nothing forwarded', async () => {
    await start();
    const now = Math.floor(Date.now() / 1000);
    const stranger = makeKey('RS256', 'rs-1');
    const cases: Array<[string, string, string]> = [
      ['expired', tok(rs, { exp: now - 120 }), 'TUNNEL_TOKEN_EXPIRED'],
      ['not yet valid', tok(rs, { nbf: now + 600 }), 'TUNNEL_TOKEN_NOT_YET_VALID'],
      ['wrong issuer', signJwt(rs, claimsFor('https://evil.example/', AUDIENCE)), 'TUNNEL_TOKEN_ISSUER'],
      ['wrong audience', signJwt(rs, claimsFor(ISSUER, 'another-api')), 'TUNNEL_TOKEN_AUDIENCE'],
      ['bad signature', signJwt(stranger, claimsFor(ISSUER, AUDIENCE)), 'TUNNEL_TOKEN_SIGNATURE'],
      ['unknown kid', signJwt(makeKey('ES256', 'nobody'), claimsFor(ISSUER, AUDIENCE)), 'TUNNEL_TOKEN_SIGNATURE'],
      ['alg none', unsignedJwt(claimsFor(ISSUER, AUDIENCE), 'rs-1'), 'TUNNEL_TOKEN_SIGNATURE'],
      ['HS256 with the public key', hs256WithPublicKey(rs, claimsFor(ISSUER, AUDIENCE)), 'TUNNEL_TOKEN_SIGNATURE'],
      ['unknown API key', randomBytes(24).toString('base64url'), 'TUNNEL_UNAUTHENTICATED'],
    ];
    for (const [name, token, code] of cases) {
      issued.push(token);
      const r = await request(url('notes'), post(token));
      expect({ name, status: r.status, code: r.json.error?.data.code }).toEqual({ name, status: 401, code });
      expect(r.headers['www-authenticate']).toMatch(
        new RegExp(`^Bearer resource_metadata="${metadataUrl('notes').replace(/[.?/]/g, '\\$&')}", error="invalid_token", error_description="[^"]+"$`),
      );
    }
    const missing = await request(url('notes'), { headers: { 'content-type': 'application/json' }, body: PING });
    expect(missing.status).toBe(401);
    expect(missing.headers['www-authenticate']).toBe(`Bearer resource_metadata="${metadataUrl('notes')}"`);
    expect(upstream.state.requestCount).toBe(0);
    expectNoSecretsLogged();
  });

  it('unknown kid: the JWKS is fetched again, so a key the issuer just rotated in works', async () => {
    await start();
    expect((await request(url('echo'), post(tok(rs)))).status).toBe(200);
    const fetched = idp.fetches;
    const fresh = makeKey('EdDSA', 'rotated-in');
    idp.set(jwks(rs, es, fresh));
    expect((await request(url('echo'), post(tok(fresh)))).status).toBe(200);
    expect(idp.fetches).toBe(fetched + 1);
  });

  it('valid token without a matching rule → 403 insufficient_scope; a group claim grants everything', async () => {
    await start();
    const r = await request(url('files'), post(tok(rs)));
    expect({ status: r.status, code: r.json.error?.data.code }).toEqual({ status: 403, code: 'TUNNEL_INSUFFICIENT_SCOPE' });
    expect(r.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${metadataUrl('files')}", error="insufficient_scope", error_description="token grants no access to this server"`,
    );
    const noScope = await request(url('notes'), post(tok(rs, { scope: 'profile' })));
    expect(noScope.status).toBe(403);
    expect(noScope.headers['www-authenticate']).toContain('scope="mcp:notes"');
    expect((await request(url('files'), post(tok(rs, { scope: '', groups: ['admins'] })))).status).toBe(200);
  });

  it('API keys: plain and SHA-256 both work next to JWTs; the plain one is warned about by client name', async () => {
    await start();
    expect((await request(url('echo'), post(h.apiKey))).status).toBe(200);
    expect((await request(url('echo'), post(hashedKey))).status).toBe(200);
    const denied = await request(url('notes'), post(hashedKey));
    expect({ status: denied.status, code: denied.json.error?.data.code }).toEqual({ status: 403, code: 'TUNNEL_FORBIDDEN' });
    const warnings = () => h.logs.lines.filter((l) => l.level === 40 && l.client === 'alice' && String(l.msg).includes('apiKeySha256'));
    expect(warnings()).toHaveLength(1);
    h.gateway.reload(h.gatewayConfig);
    expect(warnings()).toHaveLength(2);
    expect(h.logs.lines.some((l) => l.client === 'ci' && l.level === 40)).toBe(false);
    expectNoSecretsLogged();
  });

  it('protected resource metadata: root and path-inserted forms; 404 for an unknown server', async () => {
    await start();
    const root = await request(`${h.gateway.url}/.well-known/oauth-protected-resource`, { method: 'GET' });
    expect(root.status).toBe(200);
    expect(root.headers['content-type']).toBe('application/json');
    expect(root.headers['access-control-allow-origin']).toBe('*');
    expect(root.json).toEqual({ resource: h.gateway.url, authorization_servers: [ISSUER], scopes_supported: ['mcp:notes'], bearer_methods_supported: ['header'] });
    const notes = await request(metadataUrl('notes'), { method: 'GET' });
    expect(notes.json).toEqual({ resource: `${h.gateway.url}/mcp/notes`, authorization_servers: [ISSUER], scopes_supported: ['mcp:notes'], bearer_methods_supported: ['header'] });
    const unknown = await request(metadataUrl('nope'), { method: 'GET' });
    expect({ status: unknown.status, code: unknown.json.error?.data.code }).toEqual({ status: 404, code: 'TUNNEL_UNKNOWN_SERVER' });
    expect((await request(metadataUrl('notes'), { method: 'POST' })).status).toBe(405);

    // auth.resource names the public URL (behind a load balancer) in metadata and challenges.
    h.gateway.reload({ ...h.gatewayConfig, auth: { resource: 'https://gw.example.com', jwt: jwtConfig() } });
    expect((await request(metadataUrl('notes'), { method: 'GET' })).json.resource).toBe('https://gw.example.com/mcp/notes');
    const r = await request(url('notes'), { body: PING });
    expect(r.headers['www-authenticate']).toBe('Bearer resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource/mcp/notes"');
  });

  it('JWKS from a file; reloading without auth.jwt turns tokens away and hides the metadata', async () => {
    await start(null);
    const token = tok(rs);
    expect((await request(`${h.gateway.url}/.well-known/oauth-protected-resource`, { method: 'GET' })).status).toBe(404);
    const before = await request(url('echo'), post(token));
    expect({ status: before.status, code: before.json.error?.data.code }).toEqual({ status: 401, code: 'TUNNEL_UNAUTHENTICATED' });
    expect(before.headers['www-authenticate']).toBe('Bearer realm="mcp-tunnel", error="invalid_token", error_description="unknown credential"');

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-jwks-'));
    res.add(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'jwks.json');
    fs.writeFileSync(file, JSON.stringify(jwks(rs)));
    h.gateway.reload({ ...h.gatewayConfig, auth: { resource: null, jwt: jwtConfig({ jwksUrl: null, jwksFile: file }) } });
    expect((await request(url('echo'), post(token))).status).toBe(200);
    expect((await request(`${h.gateway.url}/.well-known/oauth-protected-resource`, { method: 'GET' })).status).toBe(200);

    h.gateway.reload({ ...h.gatewayConfig, auth: { resource: null, jwt: null } });
    expect((await request(url('echo'), post(token))).status).toBe(401);
    expect((await request(`${h.gateway.url}/.well-known/oauth-protected-resource`, { method: 'GET' })).status).toBe(404);
    expectNoSecretsLogged();
  });
});
