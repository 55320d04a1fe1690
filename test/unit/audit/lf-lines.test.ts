import { lfLines } from '../../../src/audit/lf-lines';

async function split(chunks: ReadonlyArray<Buffer | string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lfLines((async function* () {
    yield* chunks;
  })())) out.push(line);
  return out;
}

describe('lfLines', () => {
  it('ends lines at LF only: U+2028, U+2029, U+0085 and a lone CR stay inside the line', async () => {
    expect(await split(['a\u2028b\u2029c\u0085d\re\nnext\n'])).toEqual(['a\u2028b\u2029c\u0085d\re', 'next']);
  });

  it('drops the CR of a CRLF, also when the CR and the LF arrive in different chunks', async () => {
    expect(await split(['one\r\ntwo\r', '\nthree\r\n'])).toEqual(['one', 'two', 'three']);
  });

  it('decodes UTF-8 split across chunks, and yields a last line without LF', async () => {
    const bytes = Buffer.from('é\u2028€\n😀 tail', 'utf8');
    const chunks = Array.from(bytes, (b) => Buffer.from([b])); // one byte at a time
    expect(await split(chunks)).toEqual(['é\u2028€', '😀 tail']);
  });

  it('keeps empty lines and yields nothing after a final LF', async () => {
    expect(await split(['a\n\nb\n'])).toEqual(['a', '', 'b']);
    expect(await split([])).toEqual([]);
  });
});
