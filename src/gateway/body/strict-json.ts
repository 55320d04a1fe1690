/**
 * One reading of a JSON request body: UTF-8 (fatal), one leading BOM stripped, `JSON.parse`, and no
 * duplicate object member names anywhere. Parsers disagree on which duplicate wins (JSON.parse and
 * body-parser take the last, others the first or refuse), so a body with one is never forwarded:
 * the gateway could check one value and the upstream run the other.
 */
import { isUtf8 } from 'node:buffer';
import { JsonBytes } from '../../http';

/** The outcome of {@link readJsonBody}. */
export type JsonBody =
  | { ok: true; value: unknown }
  /** `utf8`: not valid UTF-8; `duplicate-key`: `key` appears twice in one object; `syntax`: not JSON. */
  | { ok: false; reason: 'utf8' | 'syntax' }
  | { ok: false; reason: 'duplicate-key'; key: string };

const { QUOTE, BACKSLASH, COMMA, LBRACE, RBRACE, LBRACKET, RBRACKET } = JsonBytes;

/**
 * Decodes and parses `body` the one way the gateway reads request bodies. Never throws. Empty (or
 * whitespace-only) bodies are `syntax` failures, as for `JSON.parse`.
 */
export function readJsonBody(body: Uint8Array): JsonBody {
  if (!isUtf8(body)) return { ok: false, reason: 'utf8' };
  let text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  // body-parser (iconv-lite) and TextDecoder strip exactly one leading BOM.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'syntax' };
  }
  const key = findDuplicateKey(text);
  return key === null ? { ok: true, value } : { ok: false, reason: 'duplicate-key', key };
}

/**
 * The first object member name that appears twice in the same object of `text`, compared after
 * unescaping (`"a"` and `"\u0061"` are the same name); null when there is none.
 *
 * `text` must be valid JSON (call it after `JSON.parse` succeeded): outside strings, only the
 * structural characters then matter. Iterative (an explicit stack), so nesting depth cannot
 * overflow the call stack; linear in the length of `text`.
 */
export function findDuplicateKey(text: string): string | null {
  // One entry per open container: the names seen so far (objects) or null (arrays).
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (expectKey) {
        const raw = text.slice(i + 1, end - 1);
        const name = raw.includes('\\') ? (JSON.parse(text.slice(i, end)) as string) : raw;
        const names = stack[stack.length - 1];
        if (names) {
          if (names.has(name)) return name;
          names.add(name);
        }
        expectKey = false;
      }
      i = end - 1;
    } else if (c === LBRACE) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === LBRACKET) {
      stack.push(null);
      expectKey = false;
    } else if (c === RBRACE || c === RBRACKET) {
      stack.pop();
      expectKey = false;
    } else if (c === COMMA) {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return null;
}

/** Index just past the closing quote of the (complete, valid) string opening at `start`. */
function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return text.length;
}
