/**
 * Issue 8 defects 4 and 5: tools/list filtering covers every response of a stream, and a rewritten
 * SSE answer never carries the upstream's (now wrong) Content-Length.
 */
import { startStreamableUpstream } from '../../fixtures/mcp-upstream';
import { readBody } from '../../fixtures/upstream/io';
import { Resources, readSseEvents, waitFor } from '../../helpers';
import { startHarness } from '../../helpers/tunnel-harness';
import { POST_HEADERS, rawSession } from '../passthrough/helpers';
import { gatewayRecords, rule, startPolicyTunnel } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

const toolsRule = rule({ name: 'alice-tools', tools: { allow: ['echo', 'add*', 'progress'], deny: ['wait'] } });
type ToolsAnswer = { id: number; result: { tools: Array<{ name: string }> } };

describe('issue 8 defect 4: tools/list filtering of a batch answered as SSE', () => {
  it('filters both tools/list answers of one SSE stream, not only the first', async () => {
    const t = await startPolicyTunnel(res, [toolsRule]);
    const s = await rawSession(t.mcpUrl, t.auth, '2025-03-26');
    const batch = JSON.stringify([
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    ]);
    const r = await fetch(t.mcpUrl, { method: 'POST', headers: { ...POST_HEADERS, ...s.headers }, body: batch });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const answers = (await readSseEvents(r)).filter((e) => e.data !== '').map((e) => JSON.parse(e.data) as ToolsAnswer);
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2]);
    for (const a of answers) expect(a.result.tools.map((x) => x.name).sort()).toEqual(['add', 'echo', 'progress']);
    await waitFor(() => gatewayRecords(t).some((x) => x.mcpMethod === 'batch') || undefined);
    expect(gatewayRecords(t).find((x) => x.mcpMethod === 'batch')).toMatchObject({ policy: { decision: 'filtered', rule: 'alice-tools' }, inspection: 'complete' });
  });
});

describe('issue 8 defect 5: a filtered SSE tools/list kept the upstream Content-Length', () => {
  it('sends the rewritten SSE answer without Content-Length, and the client reads it to the end', async () => {
    const upstream = res.add(
      await startStreamableUpstream({
        rawRoutes: {
          // An upstream that frames its SSE answer with Content-Length (legal for a finite stream).
          '/raw/sse-with-length': async ({ req, res: out }) => {
            const { id } = JSON.parse((await readBody(req)).toString()) as { id: number };
            const data = JSON.stringify({ jsonrpc: '2.0', id, result: { tools: [{ name: 'echo' }, { name: 'wait' }, { name: 'secret_tool' }] } });
            const body = `event: message\ndata: ${data}\n\n`;
            out.writeHead(200, { 'content-type': 'text/event-stream', 'content-length': Buffer.byteLength(body) });
            out.end(body);
          },
        },
      }),
    );
    const h = res.add(
      await startHarness({
        servers: [{ name: 'lengthy', url: `${upstream.origin}/raw/sse-with-length` }],
        gateway: (c) => void (c.policy = { rules: [toolsRule], inspectLimitBytes: 65536 }),
      }),
    );
    const r = await fetch(h.mcpUrl('lengthy'), {
      method: 'POST',
      headers: { ...POST_HEADERS, authorization: `Bearer ${h.apiKey}` },
      body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/list' }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBeNull();
    const [event] = await readSseEvents(r, { timeoutMs: 5000 });
    expect((JSON.parse(event!.data) as ToolsAnswer).result.tools.map((x) => x.name)).toEqual(['echo']);
  });
});
