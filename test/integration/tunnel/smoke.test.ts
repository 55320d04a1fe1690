import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';

describe('tunnel smoke', () => {
  let upstream: StreamableUpstreamHandle;
  let h: Harness;
  beforeEach(async () => {
    upstream = await startStreamableUpstream();
    h = await startHarness({ servers: [{ name: 'notes', url: upstream.url }] });
  });
  afterEach(async () => {
    await h.close();
    await upstream.close();
  });

  it('calls a tool through gateway → tunnel → proxy → SDK server', async () => {
    const client = new Client({ name: 't', version: '1' });
    const transport = new StreamableHTTPClientTransport(h.mcpUrl('notes'), { requestInit: { headers: { Authorization: `Bearer ${h.apiKey}` } } });
    await client.connect(transport);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('echo');
    const r = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(JSON.stringify(r.content)).toContain('hi');
    await transport.terminateSession();
    await client.close();
  });
});
