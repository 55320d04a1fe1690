import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startStreamableUpstream } from '../../fixtures/mcp-upstream';
import { cliTestEach } from '../../helpers/cli-test';
import { spawnCli, type SpawnedProcess } from '../../helpers/process';

/**
 * Issue 4 item 5, "done when": `mcp-tunnel audit verify` passes an untouched trail written by a
 * real gateway and proxy (the built CLI as child processes; run `npm run build` first), and catches
 * an edited, a deleted and a reordered record, each in a modified copy of that trail. The trail is
 * rotated once with SIGHUP on the way, as logrotate would.
 */

const t = cliTestEach('mcp-tunnel-audit-it-');

async function mcpSession(gatewayUrl: string, apiKey: string, calls: number): Promise<void> {
  const client = new Client({ name: 'audit-it', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(`${gatewayUrl}/mcp/notes`), {
    requestInit: { headers: { Authorization: `Bearer ${apiKey}` } },
  });
  await client.connect(transport);
  await client.listTools();
  for (let i = 0; i < calls; i++) {
    const result = await client.callTool({ name: 'echo', arguments: { text: `call ${i}` } });
    expect(JSON.stringify(result.content)).toContain(`call ${i}`);
  }
  await transport.terminateSession();
  await client.close();
}

async function verify(files: string[], keyFile: string): Promise<{ code: number | null; out: string }> {
  const proc = spawnCli(['audit', 'verify', ...files, '--hmac-key-file', keyFile], { cleanEnv: true });
  const { code } = await proc.exited;
  return { code, out: [...proc.stdout, ...proc.stderr].join('\n') };
}

function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
}

function copyWith(name: string, content: string[]): string {
  const file = path.join(t.dir, name);
  fs.writeFileSync(file, `${content.join('\n')}\n`);
  return file;
}

describe('audit trail of a real gateway and proxy', () => {
  it('verify passes the untouched trail (across a SIGHUP rotation) and catches an edited, a deleted and a reordered record', async () => {
    const upstream = (t.upstream = await startStreamableUpstream());
    const secret = randomBytes(32).toString('base64url');
    const apiKey = randomBytes(24).toString('base64url');
    const keyFile = path.join(t.dir, 'audit.key');
    fs.writeFileSync(keyFile, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 });
    const configFile = path.join(t.dir, 'gateway.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        tunnels: [{ id: 'corp', secrets: [secret] }],
        servers: [{ name: 'notes', tunnel: 'corp', url: upstream.url }],
        clients: [{ name: 'alice', apiKey, servers: ['*'] }],
        audit: { destination: 'gateway-audit.log', hmacKeyFile: 'audit.key', checkpoint: { every: 4 } },
      }),
    );
    const gatewayAudit = path.join(t.dir, 'gateway-audit.log');
    const proxyAudit = path.join(t.dir, 'proxy-audit.log');
    const secretFile = path.join(t.dir, 'secret');
    fs.writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });

    const gateway: SpawnedProcess = spawnCli(['gateway'], { cleanEnv: true, cwd: t.dir, env: { MCP_TUNNEL_CONFIG: configFile } });
    const listening = await gateway.waitForJson((e) => e.msg === 'gateway listening');
    const gatewayUrl = String(listening.url);
    const proxy = spawnCli(['proxy', '--url', `${gatewayUrl.replace(/^http/, 'ws')}/tunnel/corp`, '--secret-file', secretFile], {
      cleanEnv: true,
      env: {
        MCP_TUNNEL_RECONNECT_BASE_MS: '50',
        MCP_TUNNEL_AUDIT: proxyAudit,
        MCP_TUNNEL_AUDIT_HMAC_KEY_FILE: keyFile,
      },
    });
    await proxy.waitForJson((e) => e.msg === 'starting proxy');

    await mcpSession(gatewayUrl, apiKey, 3);

    // logrotate: move the file away, then SIGHUP; the gateway reopens its path and keeps chaining.
    const rotated = `${gatewayAudit}.1`;
    fs.renameSync(gatewayAudit, rotated);
    const from = gateway.lines.length;
    gateway.child.kill('SIGHUP');
    await gateway.waitForJson((e) => e.msg === 'reloading configuration', { from });
    await mcpSession(gatewayUrl, apiKey, 2);

    expect(await proxy.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    expect(await gateway.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });

    // Untouched: each file alone (the new one links to the old), and the two in order.
    const whole = await verify([rotated, gatewayAudit], keyFile);
    expect(whole.code).toBe(0);
    expect(whole.out).toMatch(/^chain intact: \d+ records, seq 1\.\.\d+, [1-9]\d* checkpoints verified$/);
    const current = await verify([gatewayAudit], keyFile);
    expect(current.code).toBe(0);
    expect(current.out).toMatch(/starts at seq \d+ linked to prev [0-9a-f]{64}/);
    const proxyResult = await verify([proxyAudit], keyFile);
    expect(proxyResult.code).toBe(0);
    expect(proxyResult.out).toMatch(/^chain intact: /);

    const records = [...lines(rotated), ...lines(gatewayAudit)];
    expect(records.length).toBeGreaterThanOrEqual(10);
    const parsed = records.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.every((r) => r.audit === true)).toBe(true);
    const calls = parsed.filter((r) => r.tool === 'echo');
    expect(calls).toHaveLength(5);
    expect(calls.every((r) => r.status === 200 && r.client === 'alice')).toBe(true);
    expect(parsed.filter((r) => r.type === 'checkpoint').length).toBeGreaterThanOrEqual(2);
    const i = parsed.findIndex((r) => r.tool === 'echo');

    // Edited: a denied call made to look allowed (hash left as it was).
    const edited = [...records];
    edited[i] = JSON.stringify({ ...parsed[i], status: 403, outcome: 'error' });
    const e = await verify([copyWith('edited.log', edited)], keyFile);
    expect(e.code).toBe(1);
    expect(e.out).toBe(`TUNNEL_AUDIT_RECORD_EDITED: edited record: hash mismatch at seq ${String(parsed[i]?.seq)}, line ${i + 1} of ${path.join(t.dir, 'edited.log')}`);

    // Deleted.
    const deleted = records.filter((_, j) => j !== i);
    const d = await verify([copyWith('deleted.log', deleted)], keyFile);
    expect(d.code).toBe(1);
    expect(d.out).toMatch(new RegExp(`^TUNNEL_AUDIT_RECORD_MISSING: deleted record: seq gap ${i}→${i + 2} `));

    // Reordered: two records swapped.
    const reordered = [...records];
    [reordered[i], reordered[i + 1]] = [records[i + 1]!, records[i]!];
    const r = await verify([copyWith('reordered.log', reordered)], keyFile);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`^TUNNEL_AUDIT_RECORD_REORDERED: records out of order: seq ${i + 2} \\(line ${i + 1} of .*\\) comes before seq ${i + 1} `));
  });
});
