import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { SAMPLE_SERVER_INFO } from './sample-tools';

/** Per-call timeout of the demo's own client. */
const CALL_TIMEOUT_MS = 15_000;

function firstText(result: CallToolResult): string {
  const item = result.content[0];
  return item?.type === 'text' ? item.text : JSON.stringify(item);
}

/**
 * Calls every sample tool through the gateway at `mcpUrl`, authenticating with `apiKey`, and
 * writes what happens to `out` as it happens (progress lines appear one by one). Ends the session
 * with DELETE and closes the client.
 *
 * @throws whatever the SDK client throws (e.g. `StreamableHTTPError` with the HTTP status in `code`).
 */
export async function showCallsThroughTunnel(mcpUrl: string, apiKey: string, out: (line: string) => void): Promise<void> {
  const client = new Client({ name: 'mcp-tunnel-demo', version: SAMPLE_SERVER_INFO.version });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${apiKey}` } },
  });
  const opts = { timeout: CALL_TIMEOUT_MS };
  await client.connect(transport, opts);
  try {
    const server = client.getServerVersion();
    out(`  initialize          → ${server?.name ?? '?'} ${server?.version ?? ''}, session ${transport.sessionId ?? '(none)'}`);

    const { tools } = await client.listTools(undefined, opts);
    out(`  tools/list          → ${tools.map((t) => t.name).join(', ')}`);

    const echo = (await client.callTool({ name: 'echo', arguments: { text: 'hello through the tunnel' } }, undefined, opts)) as CallToolResult;
    out(`  echo                → ${firstText(echo)}`);

    const add = (await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }, undefined, opts)) as CallToolResult;
    out(`  add 2 + 40          → ${firstText(add)}`);

    out('  countdown 3         → (progress notifications stream back as they are sent)');
    const countdown = (await client.callTool({ name: 'countdown', arguments: { n: 3, delayMs: 300 } }, undefined, {
      ...opts,
      onprogress: (p) => out(`                        progress ${p.progress}/${p.total ?? '?'}  ${p.message ?? ''}`),
    })) as CallToolResult;
    out(`                        ${firstText(countdown)}`);

    const whoami = (await client.callTool({ name: 'whoami', arguments: {} }, undefined, opts)) as CallToolResult;
    const headers = (whoami.structuredContent as { headers?: Record<string, string> } | undefined)?.headers ?? {};
    out(`  whoami              → the sample server received: ${Object.keys(headers).sort().join(', ')}`);
    out(
      'authorization' in headers
        ? '                        ✗ the client credential reached the internal server'
        : '                        ✓ the client credential (Authorization) was not forwarded',
    );
  } finally {
    await transport.terminateSession().catch(() => undefined);
    await client.close();
  }
}
