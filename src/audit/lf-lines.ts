import { StringDecoder } from 'node:string_decoder';

/**
 * The lines of a JSON-lines file, split at LF only (a CR before it is dropped, so CRLF files read
 * the same). Not `node:readline`: since Node 24 it also ends a line at U+2028 and U+2029, which
 * `JSON.stringify` writes unescaped inside strings, so a record holding one (a JSON-RPC id, a tool
 * name: anything a client sends) read as two damaged lines and `audit verify` failed an intact
 * trail. A JSON line holds no raw LF or CR: `JSON.stringify` escapes both.
 *
 * Bytes are decoded as UTF-8 across chunk boundaries; the last line is yielded even without a
 * final LF (a truncated record is the verifier's to judge).
 */
export async function* lfLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of source) {
    rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let start = 0;
    for (let lf = rest.indexOf('\n'); lf !== -1; lf = rest.indexOf('\n', start)) {
      yield withoutCr(rest.slice(start, lf));
      start = lf + 1;
    }
    rest = rest.slice(start);
  }
  rest += decoder.end();
  if (rest !== '') yield withoutCr(rest);
}

const withoutCr = (line: string): string => (line.endsWith('\r') ? line.slice(0, -1) : line);
