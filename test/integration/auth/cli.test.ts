/**
 * The built `mcp-tunnel` binary with client authentication from its config file: a JWT (JWKS file)
 * and a hashed API key carry calls, a plain key is warned about at start-up and on SIGHUP (by name),
 * an invalid `clients[]` entry exits 2 with the value masked, and no credential appears in any line
 * either process writes. Needs `npm run build` first, as the other CLI tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startStreamableUpstream } from '../../fixtures/mcp-upstream';
import { cliTestEach } from '../../helpers/cli-test';
import { waitFor } from '../../helpers';
import { claimsFor, jwks, makeKey, signJwt } from '../../helpers/jwt';
import { spawnCli, type SpawnedProcess } from '../../helpers/process';

const t = cliTestEach('mcp-tunnel-auth-cli-');

const allOutput = (proc: SpawnedProcess): string => proc.lines.map((l) => l.line).join('\n');

describe('mcp-tunnel gateway with auth (child process)', () => {
  it('a JWT and a hashed API key carry calls; plain keys are warned about by name; nothing secret is logged', async () => {
    const upstream = (t.upstream = await startStreamableUpstream());
    const secret = randomBytes(32).toString('base64url');
    const plainKey = randomBytes(24).toString('base64url');
    const hashedKey = randomBytes(24).toString('base64url');
    const key = makeKey('ES256', 'cli-key');
    fs.writeFileSync(path.join(t.dir, 'jwks.json'), JSON.stringify(jwks(key)));
    const configFile = path.join(t.dir, 'gateway.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        tunnels: [{ id: 'corp', secrets: [secret] }],
        servers: [{ name: 'notes', tunnel: 'corp', url: upstream.url }],
        clients: [
          { name: 'dev-laptop', apiKey: plainKey, servers: ['notes'] },
          { name: 'ci-bot', apiKeySha256: createHash('sha256').update(hashedKey).digest('hex'), servers: ['notes'] },
        ],
        auth: { jwt: { issuer: 'https://idp.test/', audience: 'gw', jwksFile: 'jwks.json', servers: [{ scope: 'mcp:notes', servers: ['notes'] }] } },
      }),
    );
    const secretFile = path.join(t.dir, 'secret');
    fs.writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });

    const gateway = spawnCli(['gateway'], { cleanEnv: true, env: { MCP_TUNNEL_CONFIG: configFile, MCP_TUNNEL_AUDIT: 'stderr' } });
    const listening = await gateway.waitForJson((e) => e.msg === 'gateway listening');
    const gatewayUrl = String(listening.url);
    const proxy = spawnCli(['proxy', '--url', `${gatewayUrl.replace(/^http/, 'ws')}/tunnel/corp`, '--secret-file', secretFile], {
      cleanEnv: true,
      env: { MCP_TUNNEL_RECONNECT_BASE_MS: '50' },
    });
    await proxy.waitForJson((e) => e.msg === 'starting proxy');

    const token = signJwt(key, claimsFor('https://idp.test/', 'gw', { sub: 'svc-42' }));
    for (const credential of [token, hashedKey, plainKey]) {
      const client = new Client({ name: 'auth-cli', version: '1' });
      const transport = new StreamableHTTPClientTransport(new URL(`${gatewayUrl}/mcp/notes`), { requestInit: { headers: { Authorization: `Bearer ${credential}` } } });
      await client.connect(transport);
      const result = await client.callTool({ name: 'echo', arguments: { text: 'authenticated' } });
      expect(JSON.stringify(result.content)).toContain('authenticated');
      await transport.terminateSession();
      await client.close();
    }
    const clients = gateway.jsonLines('stderr').filter((l) => l.side === 'gateway').map((l) => l.client);
    expect(clients).toEqual(expect.arrayContaining(['svc-42', 'ci-bot', 'dev-laptop']));

    const warnings = (): number => gateway.jsonLines().filter((l) => l.level === 40 && l.client === 'dev-laptop').length;
    expect(warnings()).toBe(1);
    gateway.child.kill('SIGHUP');
    await waitFor(() => warnings() === 2, { message: 'the plain-key warning again after SIGHUP' });
    expect(gateway.jsonLines().some((l) => l.level === 40 && l.client === 'ci-bot')).toBe(false);

    expect(await proxy.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    expect(await gateway.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    for (const proc of [gateway, proxy]) {
      const out = allOutput(proc);
      for (const s of [secret, plainKey, hashedKey, token, token.split('.')[2]!, createHash('sha256').update(hashedKey).digest('hex')]) expect(out).not.toContain(s);
    }
  });

  it('a client with both apiKey and apiKeySha256 exits 2, naming the entry and masking it', async () => {
    const apiKey = randomBytes(24).toString('base64url');
    const proc = spawnCli(['gateway'], {
      cleanEnv: true,
      env: { MCP_TUNNEL_CLIENTS: JSON.stringify([{ name: 'x', apiKey, apiKeySha256: createHash('sha256').update(apiKey).digest('hex'), servers: [] }]) },
    });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr).toEqual(['mcp-tunnel: invalid configuration: clients[0]: must set exactly one of apiKey and apiKeySha256 (value: [redacted])']);
    expect(allOutput(proc)).not.toContain(apiKey);
  });
});
