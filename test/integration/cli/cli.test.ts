import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startStreamableUpstream } from '../../fixtures/mcp-upstream';
import { cliTestEach } from '../../helpers/cli-test';
import { spawnCli, type SpawnedProcess } from '../../helpers/process';

/** The built `mcp-tunnel` binary as a child process (run `npm run build` first). */

const t = cliTestEach('mcp-tunnel-cli-it-');

function allOutput(proc: SpawnedProcess): string {
  return proc.lines.map((l) => l.line).join('\n');
}

describe('mcp-tunnel (child process)', () => {
  it('--help lists the commands and exits 0', async () => {
    const proc = spawnCli(['--help'], { cleanEnv: true });
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    for (const name of ['gateway', 'proxy', 'demo']) expect(proc.stdout.join('\n')).toContain(`  ${name} `);
  });

  it('an invalid configuration prints one line on stderr and exits 2', async () => {
    const secret = randomBytes(32).toString('base64url');
    const proc = spawnCli(['gateway'], {
      cleanEnv: true,
      env: { MCP_TUNNEL_TUNNELS: JSON.stringify([{ id: 'corp', secrets: [secret] }, { id: 'corp', secrets: [] }]) },
    });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stdout).toEqual([]);
    expect(proc.stderr).toEqual([
      'mcp-tunnel: invalid configuration: tunnels[1].id: duplicate tunnel id (already used by tunnels[0]) (value: "corp")',
    ]);
    expect(allOutput(proc)).not.toContain(secret);
  });

  it('an unknown flag prints usage on stderr and exits 2', async () => {
    const proc = spawnCli(['proxy', '--secret', 'x'], { cleanEnv: true });
    expect(await proc.exited).toEqual({ code: 2, signal: null });
    expect(proc.stderr[0]).toBe("mcp-tunnel proxy: Unknown option '--secret'");
  });

  it('gateway and proxy processes carry an MCP call, then exit 0 on SIGTERM with their logs flushed', async () => {
    const upstream = (t.upstream = await startStreamableUpstream());
    const secret = randomBytes(32).toString('base64url');
    const apiKey = randomBytes(24).toString('base64url');
    const configFile = path.join(t.dir, 'gateway.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        tunnels: [{ id: 'corp', secrets: [secret] }],
        servers: [{ name: 'notes', tunnel: 'corp', url: upstream.url }],
        clients: [{ name: 'alice', apiKey, servers: ['*'] }],
      }),
    );
    const secretFile = path.join(t.dir, 'secret');
    fs.writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });

    const gateway = spawnCli(['gateway'], { cleanEnv: true, env: { MCP_TUNNEL_CONFIG: configFile, MCP_TUNNEL_AUDIT: 'stderr' } });
    const listening = await gateway.waitForJson((e) => e.msg === 'gateway listening');
    const gatewayUrl = String(listening.url);
    expect(gatewayUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const proxy = spawnCli(['proxy', '--url', `${gatewayUrl.replace(/^http/, 'ws')}/tunnel/corp`, '--secret-file', secretFile], {
      cleanEnv: true,
      env: { MCP_TUNNEL_PROXY_NAME: 'it-proxy', MCP_TUNNEL_RECONNECT_BASE_MS: '50' },
    });
    await proxy.waitForJson((e) => e.msg === 'starting proxy' && e.tunnel === 'corp');

    // The gateway holds the request until the proxy's tunnel is up (limits.connectWaitMs).
    const client = new Client({ name: 'cli-it', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(`${gatewayUrl}/mcp/notes`), {
      requestInit: { headers: { Authorization: `Bearer ${apiKey}` } },
    });
    await client.connect(transport);
    const result = await client.callTool({ name: 'echo', arguments: { text: 'through the CLI' } });
    expect(JSON.stringify(result.content)).toContain('through the CLI');
    await transport.terminateSession();
    await client.close();

    expect(await proxy.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    expect(proxy.jsonLines().map((l) => l.msg)).toContain('stopped');
    expect(await gateway.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    expect(gateway.jsonLines().map((l) => l.msg)).toContain('stopped');

    for (const proc of [gateway, proxy]) {
      expect(allOutput(proc)).not.toContain(secret);
      expect(allOutput(proc)).not.toContain(apiKey);
    }
  });

  it('a proxy that cannot reach its gateway still stops cleanly on SIGINT', async () => {
    const secretFile = path.join(t.dir, 'secret');
    fs.writeFileSync(secretFile, `${randomBytes(32).toString('base64url')}\n`);
    // Port 9 (discard) on loopback: nothing listens there in CI; the proxy keeps retrying.
    const proxy = spawnCli(['proxy'], {
      cleanEnv: true,
      env: { MCP_TUNNEL_URL: 'ws://127.0.0.1:9/tunnel/corp', MCP_TUNNEL_SECRET_FILE: secretFile },
    });
    await proxy.waitForJson((e) => e.msg === 'starting proxy');
    expect(await proxy.stop({ signal: 'SIGINT' })).toEqual({ code: 0, signal: null });
  });
});

describe('mcp-tunnel secret (child process)', () => {
  it('secret generate prints a 43-character base64url secret and exits 0; a short secret is refused with exit 2', async () => {
    const gen = spawnCli(['secret', 'generate'], { cleanEnv: true });
    expect(await gen.exited).toEqual({ code: 0, signal: null });
    expect(gen.stdout).toHaveLength(1);
    expect(gen.stdout[0]).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const short = spawnCli(['proxy'], { cleanEnv: true, env: { MCP_TUNNEL_URL: 'ws://127.0.0.1:9/tunnel/corp', MCP_TUNNEL_SECRET: 'too-short' } });
    expect(await short.exited).toEqual({ code: 2, signal: null });
    expect(short.stderr.join('\n')).toContain('secret: must be at least 32 bytes (it has 9); generate one with `mcp-tunnel secret generate`');
    expect(short.stderr.join('\n')).not.toContain('too-short');
  });
});
