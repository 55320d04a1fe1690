/**
 * Query-parameter names as the servers behind the gateway read them. The gateway never rewrites a
 * client's query string (it is forwarded byte for byte); it only needs to know which *names* a
 * parameter could take in the upstream's parser, to refuse a parameter that would replace or
 * repeat a configured one, or that would route to a session.
 *
 * One name can read differently in different parsers, so each parameter yields every reading that
 * a common parser gives it, and a check matches when any reading matches (a superset: it may refuse
 * a harmless name, never let a dangerous one through):
 * - raw, with `+` as space (qs falls back to the raw text when percent-decoding fails);
 * - percent-decoded leniently, each valid `%XX` run as UTF-8 (`URLSearchParams`, node:querystring);
 * - each of those with the qs/express "extended" bracket forms folded: `key[]`, `key[0]`, `key[x]`
 *   are all `key`, and a leading `[key]` is `key`;
 * - case-folded (some frameworks, e.g. ASP.NET, read names case-insensitively).
 * Parameters are split on `&` and also on `;` (older parsers, e.g. Python before 3.9.2, split on both).
 */

/** Every name a parameter could take in a common parser (lower-cased). */
export function readingsOfName(rawName: string): Set<string> {
  const plus = rawName.replace(/\+/g, ' ');
  const out = new Set<string>();
  for (const decoded of [plus, decodeLenient(plus)]) {
    out.add(decoded.toLowerCase());
    out.add(foldBrackets(decoded).toLowerCase());
  }
  return out;
}

/** The raw (undecoded) names of the parameters in a query string (with or without its `?`). */
export function rawParamNames(search: string): string[] {
  const q = search.startsWith('?') ? search.slice(1) : search;
  if (q === '') return [];
  const names: string[] = [];
  for (const part of q.split(/[&;]/)) {
    if (part === '') continue;
    // qs: a key may contain `=` inside brackets (`a[=]=1`); cutting at the first `=` still leaves
    // the part before the bracket, which is the name that folding keeps.
    const eq = part.indexOf('=');
    names.push(eq < 0 ? part : part.slice(0, eq));
  }
  return names;
}

/** Every reading of every parameter name in a query string. */
export function paramReadings(search: string): Set<string> {
  const out = new Set<string>();
  for (const name of rawParamNames(search)) for (const r of readingsOfName(name)) out.add(r);
  return out;
}

/**
 * The canonical form of a name known to the gateway (a configured parameter, a session router):
 * decoded and folded as a server would read it, lower-cased.
 */
export function canonicalName(rawName: string): string {
  return foldBrackets(decodeLenient(rawName.replace(/\+/g, ' '))).toLowerCase();
}

/**
 * The first parameter of `search` whose name, in any reading, is one of `names` (canonical forms);
 * null when none is.
 */
export function findNamed(search: string, names: ReadonlySet<string>): string | null {
  for (const raw of rawParamNames(search)) {
    for (const r of readingsOfName(raw)) if (names.has(r)) return r;
  }
  return null;
}

/** qs's parent key: the text before the first `[`, or the first bracket's content when it starts the key. */
function foldBrackets(name: string): string {
  const open = name.indexOf('[');
  if (open > 0) return name.slice(0, open);
  if (open === 0) {
    const close = name.indexOf(']', 1);
    return close > 0 ? name.slice(1, close) : name;
  }
  return name;
}

/** Decodes each run of valid `%XX` escapes as UTF-8 (invalid sequences become U+FFFD); leaves invalid escapes as they are. */
function decodeLenient(s: string): string {
  if (!s.includes('%')) return s;
  return s.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}
