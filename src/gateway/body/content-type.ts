/**
 * A strict `Content-Type` parser (RFC 9110 §8.3.1, §5.6):
 *
 *     media-type = type "/" subtype *( OWS ";" OWS [ parameter ] )
 *     parameter  = token "=" ( token / quoted-string )
 *
 * No whitespace around `=`, no empty type or subtype, no bytes outside the grammar. Being stricter
 * than the parsers behind us (the `content-type` package tolerates spaces around `=`) is the point:
 * whatever this accepts, a lenient parser reads the same way.
 */

/** A parsed media type; `type`, `subtype` and parameter names lower-cased, values as sent (unquoted). */
export interface MediaType {
  type: string;
  subtype: string;
  /** Every parameter in order (a name may repeat). */
  params: ReadonlyArray<readonly [name: string, value: string]>;
}

// tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const OWS = /[ \t]*/y;
// qdtext (HTAB, SP, %x21, %x23-5B, %x5D-7E, obs-text) or a quoted-pair ("\" HTAB / SP / VCHAR / obs-text).
const QUOTED = /"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)"/y;

function match(re: RegExp, s: string, at: number): string | null {
  re.lastIndex = at;
  const m = re.exec(s);
  return m === null ? null : m[0];
}

/** Parses a `Content-Type` field value; null when it does not follow the grammar. Never throws. */
export function parseContentType(value: string): MediaType | null {
  let i = match(OWS, value, 0)?.length ?? 0;
  const type = match(TOKEN, value, i);
  if (type === null) return null;
  i += type.length;
  if (value[i] !== '/') return null;
  i++;
  const subtype = match(TOKEN, value, i);
  if (subtype === null) return null;
  i += subtype.length;
  const params: Array<readonly [string, string]> = [];
  for (;;) {
    i += match(OWS, value, i)?.length ?? 0;
    if (i >= value.length) break;
    if (value[i] !== ';') return null;
    i++;
    i += match(OWS, value, i)?.length ?? 0;
    // `*( OWS ";" OWS [ parameter ] )`: an empty parameter (`;;`, a trailing `;`) is allowed.
    if (i >= value.length || value[i] === ';') continue;
    const name = match(TOKEN, value, i);
    if (name === null) return null;
    i += name.length;
    if (value[i] !== '=') return null;
    i++;
    const quoted = match(QUOTED, value, i);
    if (quoted !== null) {
      params.push([name.toLowerCase(), quoted.slice(1, -1).replace(/\\([\s\S])/g, '$1')]);
      i += quoted.length;
      continue;
    }
    const token = match(TOKEN, value, i);
    if (token === null) return null;
    params.push([name.toLowerCase(), token]);
    i += token.length;
  }
  return { type: type.toLowerCase(), subtype: subtype.toLowerCase(), params };
}

/** The values of parameter `name` (lower-case), in order. */
export function paramValues(media: MediaType, name: string): string[] {
  return media.params.filter(([n]) => n === name).map(([, v]) => v);
}
