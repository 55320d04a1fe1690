import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { spawnCli, stopAllProcesses } from '../../helpers/process';

afterEach(async () => {
  await stopAllProcesses();
});

describe('mcp-tunnel demo (child process)', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('prints MCP_URL/MCP_API_KEY that a real client can use, then stops cleanly on %s', async (signal) => {
    const proc = spawnCli(['demo']);
    const [, url] = await proc.waitForLine(/^MCP_URL=(\S+)$/, { timeoutMs: 30_000 });
    const [, key] = await proc.waitForLine(/^MCP_API_KEY=(\S+)$/, { timeoutMs: 5_000 });
    const out = proc.stdout.join('\n');
    expect(out).toContain('hello through the tunnel');
    expect(out).toMatch(/progress 1\/3/);

    const client = new Client({ name: 'demo-user', version: '1' });
    const transport = new StreamableHTTPClientTransport(new URL(url!), { requestInit: { headers: { Authorization: `Bearer ${key!}` } } });
    await client.connect(transport);
    const r = await client.callTool({ name: 'add', arguments: { a: 20, b: 22 } });
    expect(JSON.stringify(r.content)).toContain('42');
    await transport.terminateSession();
    await client.close();

    expect(await proc.stop({ signal })).toEqual({ code: 0, signal: null });
  });
});
