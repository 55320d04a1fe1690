import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { waitFor } from '../../helpers/wait-for';

/** Body capture in gateway audit records (audit.bodies): off by default, bounded, redacted. */
describe('audit bodies', () => {
  let upstream: StreamableUpstreamHandle;
  let h: Harness;
  afterEach(async () => {
    await h.close();
    await upstream.close();
  });

  async function exchange(): Promise<Array<Record<string, unknown>>> {
    const url = h.mcpUrl('notes');
    const headers = { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const init = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
    });
    await init.arrayBuffer();
    const session = { ...headers, 'mcp-session-id': init.headers.get('mcp-session-id')!, 'mcp-protocol-version': '2025-06-18' };
    const call = await fetch(url, {
      method: 'POST',
      headers: session,
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'top-secret-argument' } } }),
    });
    expect(await call.text()).toContain('top-secret-argument');
    return waitFor(() => {
      const records = h.gatewayAudit.lines.filter((l) => l['side'] === 'gateway');
      return records.length >= 2 ? records : undefined;
    });
  }

  it('are not recorded by default', async () => {
    upstream = await startStreamableUpstream();
    h = await startHarness({ servers: [{ name: 'notes', url: upstream.url }] });
    const records = await exchange();
    for (const r of records) {
      expect(r).not.toHaveProperty('requestBody');
      expect(r).not.toHaveProperty('responseBody');
      expect(r['requestSha256']).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('are recorded parsed (SSE as its messages) with configured paths redacted', async () => {
    upstream = await startStreamableUpstream();
    h = await startHarness({
      servers: [{ name: 'notes', url: upstream.url }],
      gateway: (c) => {
        c.audit.bodies = { enabled: true, maxBytes: 65536, redact: ['params.arguments.text', 'result.content.*.text'] };
      },
    });
    const records = await exchange();
    const call = records.find((r) => r['mcpMethod'] === 'tools/call')!;
    expect(call['requestBody']).toMatchObject({ method: 'tools/call', params: { name: 'echo', arguments: { text: '[redacted]' } } });
    const messages = call['responseBody'] as Array<Record<string, unknown>>;
    expect(Array.isArray(messages)).toBe(true);
    expect(messages.find((m) => m['id'] === 2)).toMatchObject({ result: { content: [{ type: 'text', text: '[redacted]' }] } });
    expect(h.gatewayAudit.raw.join('\n')).not.toContain('top-secret-argument');
  });
});
