/**
 * The recorder's byte-level SSE parsing and data escaping (D94) against the string path it replaces
 * (a StringDecoder feeding eventsource-parser, then JSON.stringify): the same lines, byte for byte,
 * for any stream cut anywhere, with drops, odd line endings, comments, retries, BOMs and invalid
 * UTF-8.
 */
import fc from 'fast-check';
import { LineEncoder, type QueueItem } from '../../../src/replay/encoder';
import { LineOut } from '../../../src/replay/line-out';
import { Redactor } from '../../../src/replay/redact';
import { incompleteUtf8Tail } from '../../../src/replay/sse-bytes';

const meta = { x: 'x1', server: 's', session: null };

/** Encodes the items with the byte parser or the string parser; the text and the counts. */
function encode(items: QueueItem[], byteSse: boolean): { text: string; counts: { events: number; bytes: number } } {
  const enc = new LineEncoder(new Redactor({ key: 'k' }), 64 * 1024, { byteSse });
  const text = items.map((it) => enc.encodeText(it)).join('');
  return { text, counts: enc.counts() };
}

/** Head, the chunks (each with its `lossy` flag), end; exchange id `x`. */
function exchange(chunks: Array<{ bytes: Buffer; lossy: boolean }>, x = meta.x): QueueItem[] {
  const m = { ...meta, x };
  return [
    { ...m, t: 0, kind: 'response-head', status: 200, headers: [['content-type', 'text/event-stream']] },
    ...chunks.map((c, i): QueueItem => ({ ...m, t: i + 1, kind: 'response-chunk', bytes: c.bytes, ...(c.lossy ? { lossy: true } : {}) })),
    { ...m, t: chunks.length + 1, kind: 'end' },
  ];
}

const textArb = fc.string({ maxLength: 12, unit: fc.constantFrom('a', 'Z', '0', '7', ' ', ':', '"', '\\', '\t', '\u0001', '\u001f', '\0', 'é', '€', '😀', '\u2028', '{', '}') });
const lineArb = fc.oneof(
  fc.tuple(fc.constantFrom('data', 'event', 'id', 'retry', 'foo', 'dat', ''), fc.constantFrom(':', ': ', ':  ', ''), textArb).map(([f, sep, v]) => `${f}${sep}${v}`),
  fc.constantFrom('', '', 'data: {"jsonrpc":"2.0","id":1,"result":{}}', 'retry: 1000', ':', ': keep-alive', 'data', 'event:', 'id'),
);
const eolArb = fc.constantFrom('\n', '\n', '\r\n', '\r');
const junkArb = fc.constantFrom(Buffer.from([0xff]), Buffer.from([0xe2, 0x82]), Buffer.from([0xc3]), Buffer.from([0x80, 0x80]), Buffer.from([0xf0, 0x9f, 0x98]));
const streamArb = fc
  .record({
    prefix: fc.constantFrom('', '', '\uFEFF', 'ï»¿', 'ï»'),
    lines: fc.array(fc.tuple(lineArb, eolArb), { maxLength: 40 }),
    junk: fc.array(fc.tuple(fc.nat(), junkArb), { maxLength: 3 }),
    cuts: fc.array(fc.nat(), { maxLength: 12 }),
    drops: fc.array(fc.nat(), { maxLength: 2 }),
    lastEol: fc.boolean(),
  })
  .map(({ prefix, lines, junk, cuts, drops, lastEol }) => {
    let bytes = Buffer.from(prefix + lines.map(([l, e], i) => (i === lines.length - 1 && !lastEol ? l : l + e)).join(''), 'utf8');
    for (const [at, j] of junk) {
      const p = bytes.length === 0 ? 0 : at % (bytes.length + 1);
      bytes = Buffer.concat([bytes.subarray(0, p), j, bytes.subarray(p)]);
    }
    const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % bytes.length)))].filter((c) => c > 0).sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let from = 0;
    for (const p of [...points, bytes.length]) {
      if (p > from) pieces.push(bytes.subarray(from, p));
      from = p;
    }
    // A drop loses a chunk; the next one arrives marked lossy, as the recorder marks it.
    const lost = new Set(drops.map((d) => (pieces.length === 0 ? -1 : d % pieces.length)));
    const chunks: Array<{ bytes: Buffer; lossy: boolean }> = [];
    let lossy = false;
    pieces.forEach((b, i) => {
      if (lost.has(i)) lossy = true;
      else {
        chunks.push({ bytes: Buffer.from(b), lossy });
        lossy = false;
      }
    });
    return chunks;
  });

describe('byte-level SSE recording (D94)', () => {
  it('writes the same lines as the string parser for any stream, cut anywhere, with drops (property)', () => {
    fc.assert(
      fc.property(streamArb, (chunks) => {
        const items = exchange(chunks);
        expect(encode(items, true)).toEqual(encode(items, false));
      }),
      { numRuns: 3000 },
    );
  });

  it('writes the same lines for two streams whose chunks interleave (parsers share a join buffer)', () => {
    fc.assert(
      fc.property(streamArb, streamArb, (a, b) => {
        const [xa, xb] = [exchange(a, 'xa'), exchange(b, 'xb')];
        const items: QueueItem[] = [];
        for (let i = 0; i < Math.max(xa.length, xb.length); i++) items.push(...[xa[i], xb[i]].filter((it): it is QueueItem => it !== undefined));
        expect(encode(items, true)).toEqual(encode(items, false));
      }),
      { numRuns: 1000 },
    );
  });

  it('writes the same lines for a busy stream cut into socket-sized reads', () => {
    let text = '';
    for (let i = 0; i < 300; i++) {
      const data = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { data: `${i} é€😀 "q" \\ \t ${'x'.repeat(i % 97)}` } });
      text += `id: ${i}\nevent: message\ndata: ${data}\n${i % 7 === 0 ? 'data: second line\n' : ''}\n`;
      if (i % 50 === 0) text += ': keep-alive\nretry: 2500\n\n';
    }
    const bytes = Buffer.from(text, 'utf8');
    const chunks: Array<{ bytes: Buffer; lossy: boolean }> = [];
    for (let off = 0; off < bytes.length; off += 4093) chunks.push({ bytes: bytes.subarray(off, off + 4093), lossy: false });
    const items = exchange(chunks);
    const fast = encode(items, true);
    expect(fast).toEqual(encode(items, false));
    expect(fast.text.split('\n').filter((l) => l.includes('"type":"sse"'))).toHaveLength(300 + 2 * 6);
  });

  it('uses the string parser when redaction reads body text (patterns, JSON Pointers)', () => {
    const items = exchange([{ bytes: Buffer.from('data: {"token":"sk-123"}\n\n'), lossy: false }]);
    const enc = new LineEncoder(new Redactor({ key: 'k', patterns: ['sk-[0-9]+'] }), 64 * 1024);
    const text = items.map((it) => enc.encodeText(it)).join('');
    expect(text).not.toContain('sk-123');
    expect(text).toContain('REDACTED-hmac-');
  });

  it('escapes data bytes exactly as JSON.stringify escapes the decoded text', () => {
    const all = Buffer.from(Array.from({ length: 0x80 }, (_, i) => i));
    const samples = [all, Buffer.from('é€😀\u2028\u2029 "\\', 'utf8'), Buffer.alloc(0)];
    for (const s of samples) {
      const out = new LineOut(4);
      out.jsonString(s);
      expect(out.take().toString('utf8')).toBe(JSON.stringify(s.toString('utf8')));
    }
  });

  it('finds the incomplete character a StringDecoder would hold back', () => {
    expect(incompleteUtf8Tail(Buffer.from('ab'))).toBe(0);
    expect(incompleteUtf8Tail(Buffer.from([0x61, 0xe2, 0x82]))).toBe(2);
    expect(incompleteUtf8Tail(Buffer.from([0xe2, 0x82, 0xac]))).toBe(0);
    expect(incompleteUtf8Tail(Buffer.from([0xf0, 0x9f, 0x98]))).toBe(3);
    expect(incompleteUtf8Tail(Buffer.from([0x80]))).toBe(0);
    expect(incompleteUtf8Tail(Buffer.from([0xff]))).toBe(0);
  });
});
