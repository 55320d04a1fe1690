import { canonicalize, diffJson, fromLines, Matcher, type RecordingLine } from '../../../src/replay';

function recording(bodies: Array<[string, string]>): ReturnType<typeof fromLines> {
  const lines: RecordingLine[] = [
    {
      type: 'header',
      format: 'mcp-tunnel-recording',
      version: 1,
      recorder: { name: 'mcp-tunnel', version: '0', side: 'test' },
      startedAt: new Date(0).toISOString(),
      part: 1,
      redaction: { method: 'hmac-sha256', keyId: 'k', headers: [], queryParams: [], pointers: [], patterns: [] },
    },
  ];
  bodies.forEach(([x, body], i) => {
    const base = { seq: i * 2, t: i, x, server: 'notes', session: null, dir: 'c2s' as const };
    lines.push({ type: 'request-head', ...base, method: 'POST', path: '/mcp/notes', headers: [] });
    lines.push({ type: 'request-body', ...base, seq: i * 2 + 1, body: { text: body }, whole: true });
  });
  return fromLines(lines, false);
}

const call = (id: number, args: unknown, meta?: unknown): Buffer =>
  Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: args, ...(meta ? { _meta: meta } : {}) } }));

describe('replay matching', () => {
  it('canonicalises as RFC 8785 (sorted members, ES number and string forms)', () => {
    expect(canonicalize({ b: [1e21, 0.1, -0], a: 'é\u001f', c: { z: null, y: true } })).toBe('{"a":"é\\u001f","b":[1e+21,0.1,0],"c":{"y":true,"z":null}}');
  });

  it('never matches on the JSON-RPC id; ignores volatile _meta; answers identical requests in recorded order', () => {
    const rec = recording([
      ['first', call(1, { text: 'hi' }, { progressToken: 1 }).toString()],
      ['second', call(2, { text: 'hi' }).toString()],
    ]);
    const m = new Matcher(rec);
    const a = m.match('notes', 'POST', call(77, { text: 'hi' }, { progressToken: 'live', traceparent: '00-ab' }), undefined);
    const b = m.match('notes', 'POST', call(78, { text: 'hi' }), undefined);
    expect(a.ok && a.exchange.id).toBe('first');
    expect(b.ok && b.exchange.id).toBe('second');
  });

  it('names the closest recorded candidate with a JSON Patch when nothing matches', () => {
    const m = new Matcher(recording([['only', call(1, { text: 'hello' }).toString()]]));
    const r = m.match('notes', 'POST', call(1, { text: 'bye' }), undefined);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.closest?.exchange.id).toBe('only');
    expect(r.closest?.diff).toEqual([{ op: 'replace', path: '/messages/0/params/arguments/text', value: 'bye', was: 'hello' }]);
  });

  it('a redaction placeholder in the recording matches any live string', () => {
    const m = new Matcher(recording([['r', call(1, { token: 'REDACTED-hmac-AAAAAAAAAAAAAAAAAAAAAA' }).toString()]]));
    expect(m.match('notes', 'POST', call(9, { token: 'live-secret' }), undefined).ok).toBe(true);
  });

  it('diffs JSON inside content[].text as JSON and ignores timestamps', () => {
    const rec = { content: [{ type: 'text', text: '{"n":1,"at":"2026-01-01T00:00:00Z"}' }] };
    const live = { content: [{ type: 'text', text: '{"at":"2026-02-02T10:00:00.5Z","n":2}' }] };
    expect(diffJson(rec, live, {}, '/result')).toEqual([{ op: 'replace', path: '/result/content/0/text/n', value: 2, was: 1 }]);
  });
});
