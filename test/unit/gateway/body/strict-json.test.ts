import { findDuplicateKey, readJsonBody } from '../../../../src/gateway/body';

const buf = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('readJsonBody: one decoding and parse of a request body', () => {
  it('parses UTF-8 JSON and strips exactly one leading BOM', () => {
    expect(readJsonBody(buf('{"a":1}'))).toEqual({ ok: true, value: { a: 1 } });
    expect(readJsonBody(buf('\ufeff{"a":1}'))).toEqual({ ok: true, value: { a: 1 } });
    expect(readJsonBody(buf('\ufeff\ufeff{"a":1}'))).toEqual({ ok: false, reason: 'syntax' });
  });

  it.each([
    ['a lone continuation byte', Buffer.from([0x7b, 0x80, 0x7d])],
    ['an overlong encoding of "/"', Buffer.from([0x22, 0xc0, 0xaf, 0x22])],
    ['a UTF-16 surrogate encoded in UTF-8', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
    ['a sequence cut at the end', Buffer.from([0x22, 0xe2, 0x82])],
    ['Latin-1 "é"', Buffer.from('{"a":"é"}', 'latin1')],
  ])('refuses invalid UTF-8: %s', (_name, body) => {
    expect(readJsonBody(body)).toEqual({ ok: false, reason: 'utf8' });
  });

  it('reads a UTF-16 body as the UTF-8 it is not: not JSON (a charset was refused before)', () => {
    expect(readJsonBody(Buffer.from('{"a":1}', 'utf16le'))).toEqual({ ok: false, reason: 'syntax' });
  });

  it('reports non-JSON as a syntax failure (the empty body too)', () => {
    for (const s of ['', '  ', '{', '{"a":1}}', 'NaN', '{"a":NaN}', "{'a':1}", '[1,]']) expect(readJsonBody(buf(s))).toEqual({ ok: false, reason: 'syntax' });
  });

  it('refuses duplicate member names', () => {
    expect(readJsonBody(buf('{"method":"tools/call","method":"x"}'))).toEqual({ ok: false, reason: 'duplicate-key', key: 'method' });
  });
});

describe('findDuplicateKey', () => {
  it.each([
    ['{"a":1,"a":2}', 'a'],
    ['{"a":1,"\\u0061":2}', 'a'],
    ['{"\\u0061":1,"a":2}', 'a'],
    ['{"a\\/b":1,"a/b":2}', 'a/b'],
    ['{"\\ud800":1,"\\uD800":2}', '\ud800'],
    ['{"params":{"name":"echo","arguments":{},"name":"evil"}}', 'name'],
    ['[{"id":1},{"id":2,"x":{"y":[{"z":1,"z":2}]}}]', 'z'],
    ['{"":1,"":2}', ''],
    ['{"__proto__":1,"__proto__":2}', '__proto__'],
    ['{"a":"}\\",\\"a\\":","b":{},"b":1}', 'b'],
  ])('finds the duplicate in %s', (text, key) => {
    expect(findDuplicateKey(text)).toBe(key);
  });

  it.each([
    ['{"a":1,"b":{"a":2}}'],
    ['[{"a":1},{"a":2}]'],
    ['{"a":"\\"a\\":1,","b":["a","a"]}'],
    ['{"a\\\\":1,"a":2}'],
    ['{"A":1,"a":2}'],
    ['{"a":{},"b":[],"c":[{}]}'],
    ['"just a string"'],
    ['[]'],
    ['{"x":"\\\\"}'],
  ])('finds none in %s', (text) => {
    JSON.parse(text); // the detector's precondition
    expect(findDuplicateKey(text)).toBeNull();
  });

  it('walks nesting far deeper than the call stack allows', () => {
    const depth = 200_000;
    const deep = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    expect(findDuplicateKey(deep)).toBeNull();
    const mixed = `${'{"k":0,"n":['.repeat(1000)}{"k":1,"k":2}${']}'.repeat(1000)}`;
    JSON.parse(mixed);
    expect(findDuplicateKey(mixed)).toBe('k');
  });

  it('sees a duplicate at the very end of a body at the 64 KiB limit', () => {
    const filler = 'x'.repeat(64 * 1024 - 40);
    const text = `{"f":"${filler}","name":"a","name":"b"}`;
    expect(findDuplicateKey(text)).toBe('name');
  });
});
