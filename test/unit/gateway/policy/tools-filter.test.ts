import { Readable } from 'node:stream';
import { ToolsListSseFilter, decodeMirroredValue, filterToolsJsonBody, headerMismatch, isHeaderEra } from '../../../../src/gateway/policy';

const allowed = (t: string): boolean => t.startsWith('ok');
const list = (id: number | string, names: string[]): string => JSON.stringify({ jsonrpc: '2.0', id, result: { tools: names.map((name) => ({ name })) } });

describe('filterToolsJsonBody', () => {
  it('filters the response with a matching id, and keeps other bodies byte for byte', () => {
    const out = filterToolsJsonBody(Buffer.from(list(1, ['ok1', 'no', 'ok2'])), new Set([1]), allowed);
    expect(JSON.parse(out.toString())).toEqual({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'ok1' }, { name: 'ok2' }] } });
    const other = Buffer.from(list(2, ['no']));
    expect(filterToolsJsonBody(other, new Set([1]), allowed)).toBe(other);
    const notJson = Buffer.from('nope');
    expect(filterToolsJsonBody(notJson, new Set([1]), allowed)).toBe(notJson);
  });

  it('filters batch members and drops tools without a string name', () => {
    const body = `[${list('a', ['ok', 'no'])},{"jsonrpc":"2.0","id":"a2","result":{}},{"jsonrpc":"2.0","id":"b","result":{"tools":[{"name":1},{"name":"ok"}]}}]`;
    const out = JSON.parse(filterToolsJsonBody(Buffer.from(body), new Set(['a', 'b']), allowed).toString()) as Array<{ result: { tools?: unknown[] } }>;
    expect(out.map((m) => m.result.tools)).toEqual([[{ name: 'ok' }], undefined, [{ name: 'ok' }]]);
  });
});

async function run(chunks: string[], ids = new Set<string | number>([7])): Promise<{ out: string[]; at: number[] }> {
  const filter = new ToolsListSseFilter(ids, allowed, 1024);
  const out: string[] = [];
  const at: number[] = [];
  filter.on('data', (c: Buffer) => {
    out.push(c.toString());
    at.push(out.length);
  });
  await new Promise<void>((resolve, reject) => {
    filter.once('end', resolve);
    filter.once('error', reject);
    Readable.from(chunks.map((c) => Buffer.from(c))).pipe(filter);
  });
  return { out, at };
}

describe('ToolsListSseFilter', () => {
  it('passes other events unchanged and one by one, rewrites only the matching response', async () => {
    const progress = 'event: message\nid: 1\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n';
    const { out } = await run([': keep-alive\n\n', progress.slice(0, 20), progress.slice(20), `id: 2\ndata: ${list(7, ['ok', 'no'])}\r\n\r\n`, 'data: tail\n\n']);
    expect(out[0]).toBe(': keep-alive\n\n');
    expect(out[1]).toBe(progress);
    expect(out[2]).toBe(`id: 2\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 7, result: { tools: [{ name: 'ok' }] } })}\n\n`);
    expect(out.slice(3).join('')).toBe('data: tail\n\n');
  });

  it('joins multi-line data and leaves responses to other ids and other event types alone', async () => {
    const other = `data: ${list(8, ['no'])}\n\n`;
    const typed = `event: custom\ndata: ${list(7, ['no'])}\n\n`;
    const json = list(7, ['no', 'ok']);
    const cut = json.indexOf('"id"'); // between two tokens, where a newline is valid JSON whitespace
    const split = `data: ${json.slice(0, cut)}\ndata: ${json.slice(cut)}\n\n`;
    const { out } = await run([other, typed, split]);
    expect(out[0]).toBe(other);
    expect(out[1]).toBe(typed);
    expect(out[2]).toBe(`data: ${JSON.stringify({ jsonrpc: '2.0', id: 7, result: { tools: [{ name: 'ok' }] } })}\n\n`);
  });

  it('with ids null (GET streams) filters every tools result for the life of the stream', async () => {
    const filter = new ToolsListSseFilter(null, allowed);
    const out: string[] = [];
    filter.on('data', (c: Buffer) => out.push(c.toString()));
    const done = new Promise((r) => filter.once('end', r));
    filter.write(`data: ${list(1, ['no', 'ok'])}\n\n`);
    filter.write(`data: ${list(2, ['ok2', 'no'])}\n\n`);
    filter.end('data: {"jsonrpc":"2.0","id":3,"result":{"content":[]}}\n\n');
    await done;
    expect(out.map((e) => (JSON.parse(e.slice(6)) as { result: { tools?: Array<{ name: string }> } }).result.tools?.map((x) => x.name))).toEqual([['ok'], ['ok2'], undefined]);
  });

  // Defect 4 (issue 8): the filter stopped after the first matching event, so a second tools/list
  // answer on the same stream (a batch answered as SSE) passed unfiltered.
  it('filters every tools/list answer of a batch answered on one SSE stream, not only the first', async () => {
    const { out } = await run([`data: ${list(7, ['ok', 'no'])}\n\n`, `data: ${list(8, ['no', 'ok8'])}\n\n`, `data: ${list(7, ['no7'])}\n\n`], new Set([7, 8]));
    expect(out.map((e) => (JSON.parse(e.slice(6)) as { result: { tools: Array<{ name: string }> } }).result.tools.map((x) => x.name))).toEqual([['ok'], ['ok8'], []]);
  });

  it('fails closed on an event larger than its bound', async () => {
    await expect(run([`data: ${'x'.repeat(2000)}`])).rejects.toThrow(/cannot be checked/);
  });
});

describe('era headers', () => {
  it('recognises the header era by date', () => {
    expect(isHeaderEra('2026-07-28')).toBe(true);
    expect(isHeaderEra('2027-01-01')).toBe(true);
    expect(isHeaderEra('2025-11-25')).toBe(false);
    expect(isHeaderEra(undefined)).toBe(false);
    expect(isHeaderEra('draft')).toBe(false);
  });

  it('decodes the Base64 form, and refuses a malformed one', () => {
    expect(decodeMirroredValue('plain')).toBe('plain');
    expect(decodeMirroredValue(`=?base64?${Buffer.from('東京').toString('base64')}?=`)).toBe('東京');
    expect(decodeMirroredValue('=?base64?***?=')).toBeNull();
  });

  it('compares method, name/uri and protocol version with the body', () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } };
    const h = { protocolVersion: '2026-07-28', method: 'tools/call', name: 'echo' };
    expect(headerMismatch(h, call)).toBeNull();
    expect(headerMismatch({ ...h, name: 'other' }, call)).toMatch(/Mcp-Name/);
    expect(headerMismatch({ ...h, method: 'tools/list' }, call)).toMatch(/Mcp-Method/);
    expect(headerMismatch({ ...h, protocolVersion: '2026-08-01' }, call)).toMatch(/MCP-Protocol-Version/);
    expect(headerMismatch({ ...h, name: undefined }, call)).toMatch(/missing/);
    const read = { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri: 'file:///a' } };
    expect(headerMismatch({ ...h, method: 'resources/read', name: 'file:///a' }, read)).toBeNull();
    expect(headerMismatch({ ...h, method: 'resources/read', name: 'file:///b' }, read)).toMatch(/Mcp-Name/);
    expect(headerMismatch(h, [call])).toMatch(/single/);
    expect(headerMismatch({ ...h, method: 'tools/list', name: undefined }, { jsonrpc: '2.0', id: 3, method: 'tools/list' })).toBeNull();
  });
});
