/**
 * Request variants for the differential harness: what an attacker (or an odd but legitimate
 * client) can vary in one MCP request to the gateway — charsets, encodings, JSON escapes,
 * duplicate keys, batches, BOMs, whitespace, paths, methods, session headers, sizes around every
 * limit — as fast-check arbitraries of plain data, and a renderer that turns one into the exact
 * bytes sent (see `render`). Generated values never hold session ids: those are filled in at
 * render time from the live sessions, so a seed always means the same requests.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';

export type Who = 'alice' | 'bob';
export type Delta = -1 | 0 | 1 | 64;
export const IDENTITIES: readonly Who[] = ['alice', 'bob'];

/** Limits the harness configures (bytes), so that each one is distinct from the others. */
export const LIMITS = {
  /** The audit inspector's fixed prefix (src/audit/mcp-info.ts DEFAULT_INSPECT_LIMIT_BYTES). */
  audit: 64 * 1024,
  /** `policy.inspectLimitBytes`. */
  policy: 32 * 1024,
  /** `limits.maxRequestBodyBytes` (under express.json's 100 kB default, so the upstream reads it). */
  body: 96 * 1024,
} as const;

/** A reference to a live session, resolved at render time. */
export type SessionRef = 'own-notes' | 'other-notes' | 'own-legacy' | 'other-legacy' | 'random';
/** How a legacy `sessionId` query parameter is written. */
export type SidForm = 'plain' | 'dup-own-first' | 'dup-other-first' | 'bracket' | 'encoded' | 'upper-key';

export type Target =
  | { kind: 'notes'; slash: boolean }
  /** A sub-path of `notes` that leads, after some reading, to another server on the same origin. */
  | { kind: 'notes-escape'; path: string }
  /** `notes` with a client query string (the configured URL has `?tenant=notes`). */
  | { kind: 'notes-query'; query: string }
  /** The legacy server's message endpoint, reached through `notes`. */
  | { kind: 'notes-to-legacy'; whose: 'own' | 'other' }
  | { kind: 'legacy-post'; whose: 'own' | 'other'; form: SidForm }
  | { kind: 'legacy-get' }
  /** A configured server no client is granted. */
  | { kind: 'admin' };

export type Call =
  | { method: 'tools/call'; tool: 'echo' | 'evil' }
  | { method: 'tools/list' }
  | { method: 'ping' }
  | { method: 'initialize' }
  | { method: 'notifications/initialized' };

export interface TextStyle {
  escapeMethod: 'none' | 'slash' | 'unicode';
  escapeTool: boolean;
  /** Decoy key placed before the real one (last wins in JSON.parse); the decoy value is `decoy`. */
  dup: 'none' | 'method' | 'name' | 'params' | 'jsonrpc-last';
  decoy: 'echo' | 'evil' | 'tools/list' | 'ping';
  bom: boolean;
  ws: boolean;
}

export interface Charset {
  /** What follows `charset=` in Content-Type (may itself hold more parameters). */
  label: string;
  /** How the body text is turned into bytes. */
  bytes: 'utf8' | 'utf7' | 'utf7-attack' | 'utf16le' | 'latin1';
}

export interface Variant {
  who: Who;
  target: Target;
  method: 'POST' | 'GET' | 'PUT' | 'DELETE' | 'PATCH';
  payload: { batch: false; msg: Call } | { batch: true; msgs: Call[] };
  style: TextStyle;
  charset: Charset | null;
  encoding: string | null;
  /** `Mcp-Session-Id` headers, in order (two = a duplicated header); `default` = the one a client would send. */
  sessionHeaders: SessionRef[] | 'default';
  /**
   * Pad the body to `LIMITS[limit] + delta` bytes (before compression). The padding sits inside
   * the first message, before its last key, so `+64` puts that key beyond a cut at the limit.
   */
  size: { limit: keyof typeof LIMITS; delta: Delta } | null;
}

// ---------------------------------------------------------------- arbitraries

const who = fc.constantFrom<Who>('alice', 'bob');
const call: fc.Arbitrary<Call> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<Call>({ method: 'tools/call', tool: 'evil' }, { method: 'tools/call', tool: 'echo' }) },
  { weight: 2, arbitrary: fc.constant<Call>({ method: 'tools/list' }) },
  { weight: 1, arbitrary: fc.constantFrom<Call>({ method: 'ping' }, { method: 'initialize' }, { method: 'notifications/initialized' }) },
);
const toolCall = fc.constantFrom<Call>({ method: 'tools/call', tool: 'evil' }, { method: 'tools/call', tool: 'echo' }).map((msg) => ({ batch: false as const, msg }));
const single = call.map((msg) => ({ batch: false as const, msg }));
const batch = fc.array(call, { minLength: 1, maxLength: 3 }).map((msgs) => ({ batch: true as const, msgs }));
const payload = fc.oneof({ weight: 3, arbitrary: single }, { weight: 1, arbitrary: batch });

const plainStyle: TextStyle = { escapeMethod: 'none', escapeTool: false, dup: 'none', decoy: 'echo', bom: false, ws: false };
const style: fc.Arbitrary<TextStyle> = fc.record({
  escapeMethod: fc.constantFrom('none', 'slash', 'unicode'),
  escapeTool: fc.boolean(),
  dup: fc.constantFrom('none', 'method', 'name', 'params', 'jsonrpc-last'),
  decoy: fc.constantFrom('echo', 'evil', 'tools/list', 'ping'),
  bom: fc.boolean(),
  ws: fc.boolean(),
});

const charset: fc.Arbitrary<Charset> = fc.record({
  label: fc.constantFrom('utf-8', 'UTF-8', '"utf-8"', 'utf-7', '"utf-7"', 'UTF-7', 'utf-8; charset=utf-7', 'utf-7; charset=utf-8', 'utf-16le', 'latin1', 'iso-8859-1', 'utf8'),
  bytes: fc.constantFrom('utf8', 'utf7', 'utf7-attack', 'utf7-attack', 'utf16le', 'latin1'),
});
const encoding = fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'gzip, identity', 'identity, gzip', 'GZIP', 'x-gzip');
const sessionRef = fc.constantFrom<SessionRef>('own-notes', 'other-notes', 'own-legacy', 'other-legacy', 'random');
const sessionHeaders = fc.oneof(
  { weight: 3, arbitrary: fc.constant<'default'>('default') },
  { weight: 2, arbitrary: fc.array(sessionRef, { minLength: 0, maxLength: 2 }) },
);

const ESCAPES = ['/admin-mcp', '/../admin-mcp', '/%2e%2e/admin-mcp', '/%2E%2E/admin-mcp', '//admin-mcp', '/./admin-mcp', '/admin-mcp/', '/ADMIN-MCP', '/mcp', '/sse', '/%2fadmin-mcp'];
const QUERIES = ['?tenant=admin', '?%74enant=admin', '?tenant=notes&tenant=admin', '?tenant=admin&tenant=notes', '?x=1', '?tenant[]=admin', '?TENANT=admin', '?tenant=%61dmin'];
const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 4, arbitrary: fc.boolean().map((slash) => ({ kind: 'notes' as const, slash })) },
  { weight: 2, arbitrary: fc.constantFrom(...ESCAPES).map((path) => ({ kind: 'notes-escape' as const, path })) },
  { weight: 2, arbitrary: fc.constantFrom(...QUERIES).map((query) => ({ kind: 'notes-query' as const, query })) },
  { weight: 1, arbitrary: fc.constantFrom('own', 'other').map((whose) => ({ kind: 'notes-to-legacy' as const, whose })) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('legacy-post' as const),
      whose: fc.constantFrom('own', 'other'),
      form: fc.constantFrom<SidForm>('plain', 'dup-own-first', 'dup-other-first', 'bracket', 'encoded', 'upper-key'),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'legacy-get' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'admin' as const }) },
);
const notesOrLegacy: fc.Arbitrary<Target> = fc.oneof(
  fc.constant({ kind: 'notes' as const, slash: false }),
  fc.constant({ kind: 'legacy-post' as const, whose: 'own' as const, form: 'plain' as const }),
);
const method = fc.constantFrom<Variant['method']>('POST', 'POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH');
const size = fc.record({ limit: fc.constantFrom<keyof typeof LIMITS>('audit', 'policy', 'body'), delta: fc.constantFrom<Delta>(-1, 0, 1, 64) });

const evilCall = { batch: false as const, msg: { method: 'tools/call' as const, tool: 'evil' as const } };
function base(): Omit<Variant, 'who'> {
  return { target: { kind: 'notes', slash: false }, method: 'POST', payload: evilCall, style: plainStyle, charset: null, encoding: null, sessionHeaders: 'default', size: null };
}

/** Families of variants; each is a property of its own so a failure says which reading differs. */
export const FAMILIES = {
  /** Charset parameter against the body's real encoding. */
  charset: fc.record({ who, target: notesOrLegacy, payload, charset }).map((v) => ({ ...base(), ...v })),
  /** Content-Encoding (express.json inflates gzip, deflate and br). */
  encoding: fc.record({ who, target: notesOrLegacy, payload, encoding }).map((v) => ({ ...base(), ...v })),
  /** JSON escapes, duplicate keys, BOMs, whitespace and batches. */
  json: fc.record({ who, target: notesOrLegacy, payload, style }).map((v) => ({ ...base(), ...v })),
  /** Paths and queries: escapes from the configured endpoint, legacy sessionId forms. */
  paths: fc.record({ who, target, payload }).map((v) => ({ ...base(), ...v })),
  /** Session headers: duplicated, foreign, on legacy posts, another identity's. */
  sessions: fc.record({ who, target: fc.oneof(notesOrLegacy, target), payload: single, sessionHeaders }).map((v) => ({ ...base(), ...v })),
  /** HTTP methods other than POST, with a body. */
  methods: fc.record({ who, target: notesOrLegacy, payload: single, method }).map((v) => ({ ...base(), ...v })),
  /** Sizes around every limit (few: each is up to ~100 KiB). */
  sizes: fc.record({ who, target: notesOrLegacy, payload: toolCall, size, style: fc.constantFrom(plainStyle, { ...plainStyle, dup: 'name' as const, decoy: 'echo' as const }) }).map((v) => ({ ...base(), ...v })),
  /** Everything at once. */
  mixed: fc.record({
    who,
    target,
    method: fc.oneof({ weight: 4, arbitrary: fc.constant<Variant['method']>('POST') }, { weight: 1, arbitrary: method }),
    payload,
    style: fc.oneof(fc.constant(plainStyle), style),
    charset: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: charset }),
    encoding: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: encoding }),
    sessionHeaders,
  }).map((v) => ({ ...base(), ...v })),
} satisfies Record<string, fc.Arbitrary<Variant>>;

// ---------------------------------------------------------------- rendering

/** Live session ids the renderer fills in. */
export interface SessionIds {
  notes: Record<Who, string>;
  legacy: Record<Who, string>;
}

export interface RenderedRequest {
  method: string;
  /** Request target exactly as sent: path and query. */
  target: string;
  headers: Array<[string, string]>;
  body: Buffer;
  /** JSON-RPC ids used, so upstream log entries can be attributed to this request. */
  ids: string[];
}

function q(s: string): string {
  return JSON.stringify(s);
}

/** `s` with its first character as a JSON `\uXXXX` escape. */
function escapeFirst(s: string): string {
  return `\\u${s.charCodeAt(0).toString(16).padStart(4, '0')}${s.slice(1)}`;
}

function renderMethod(method: string, st: TextStyle): string {
  if (st.escapeMethod === 'slash') return `"${method.replace('/', '\\/')}"`;
  if (st.escapeMethod === 'unicode') return `"${escapeFirst(method)}"`;
  return q(method);
}

/** One JSON-RPC message as text, with the style's escapes and duplicate keys, and `pad` bytes of padding. */
function renderMessage(c: Call, id: string, st: TextStyle, pad: string): string {
  const parts: string[] = [];
  if (st.dup === 'method') parts.push(`"method":${q(st.decoy)}`);
  parts.push(`"jsonrpc":"2.0"`);
  const notification = c.method === 'notifications/initialized';
  if (!notification) parts.push(`"id":${q(id)}`);
  parts.push(`"method":${renderMethod(c.method, st)}`);
  let params: string | null = null;
  if (c.method === 'tools/call') {
    const name = st.escapeTool ? `"${escapeFirst(c.tool)}"` : q(c.tool);
    const decoyName = st.dup === 'name' ? `"name":${q(st.decoy)},` : '';
    params = `{${decoyName}"arguments":{"text":"hi","pad":${q(pad)}},"name":${name}}`;
  } else if (c.method === 'initialize') {
    params = `{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"differential","version":"1"},"pad":${q(pad)}}`;
  } else if (pad !== '') {
    params = `{"_meta":{"pad":${q(pad)}}}`;
  }
  if (params !== null) {
    if (st.dup === 'params') parts.push(`"params":{"name":${q(st.decoy)},"arguments":{}}`);
    parts.push(`"params":${params}`);
  }
  if (st.dup === 'jsonrpc-last') parts.push(`"jsonrpc":"2.0"`);
  return `{${parts.join(',')}}`;
}

function renderText(v: Variant, ids: string[], pad: string): string {
  const msgs = v.payload.batch ? v.payload.msgs : [v.payload.msg];
  const texts = msgs.map((m, i) => renderMessage(m, ids[i]!, v.style, i === 0 ? pad : ''));
  let text = v.payload.batch ? `[${texts.join(',')}]` : texts[0]!;
  if (v.style.ws) text = `\r\n\t ${text} \n`;
  if (v.style.bom) text = `\ufeff${text}`;
  return text;
}

/** UTF-7 (RFC 2152) of `s`, with every character in `force` base64-encoded. */
function utf7(s: string, force: (ch: string, i: number) => boolean): Buffer {
  let out = '';
  let run = '';
  const flush = (): void => {
    if (run === '') return;
    const be = Buffer.from(run, 'utf16le').swap16();
    out += `+${be.toString('base64').replace(/=+$/, '')}-`;
    run = '';
  };
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '+') {
      flush();
      out += '+-';
    } else if (force(ch, i) || ch.charCodeAt(0) > 0x7e) {
      run += ch;
    } else {
      flush();
      out += ch;
    }
  }
  flush();
  return Buffer.from(out, 'latin1');
}

/** Positions an attacker hides from a UTF-8 reader: the `/` of every method, the first letter of every tool name. */
function attackPositions(text: string): Set<number> {
  const at = new Set<number>();
  for (const m of text.matchAll(/"(tools|notifications)\/(call|list|initialized)"/g)) at.add(m.index + m[1]!.length + 1);
  for (const m of text.matchAll(/"(echo|evil)"/g)) at.add(m.index + 1);
  return at;
}

function toBytes(text: string, cs: Charset | null): Buffer {
  switch (cs?.bytes ?? 'utf8') {
    case 'utf7':
      return utf7(text, () => false);
    case 'utf7-attack': {
      const at = attackPositions(text);
      return utf7(text, (_c, i) => at.has(i));
    }
    case 'utf16le':
      return Buffer.from(text, 'utf16le');
    case 'latin1':
      return Buffer.from(text, 'latin1');
    default:
      return Buffer.from(text, 'utf8');
  }
}

function compress(body: Buffer, encoding: string | null): Buffer {
  const e = (encoding ?? '').toLowerCase();
  if (e.includes('gzip')) return gzipSync(body);
  if (e.includes('deflate')) return deflateSync(body);
  if (e === 'br') return brotliCompressSync(body);
  return body;
}

/** The body bytes (before compression), padded to the variant's size when it has one. */
function bodyBytes(v: Variant, ids: string[]): Buffer {
  const unpadded = toBytes(renderText(v, ids, ''), v.charset);
  if (v.size === null) return unpadded;
  const want = LIMITS[v.size.limit] + v.size.delta;
  const perChar = v.charset?.bytes === 'utf16le' ? 2 : 1;
  // The padding may add a wrapper (`_meta`) the unpadded body lacks: measure and correct twice.
  let padChars = Math.max(0, Math.floor((want - unpadded.length) / perChar));
  let body = unpadded;
  for (let i = 0; i < 3; i++) {
    body = toBytes(renderText(v, ids, 'x'.repeat(padChars)), v.charset);
    if (body.length === want) break;
    padChars = Math.max(0, padChars + Math.trunc((want - body.length) / perChar));
  }
  return body;
}

function sid(ref: SessionRef, who: Who, s: SessionIds): string {
  const other: Who = who === 'alice' ? 'bob' : 'alice';
  switch (ref) {
    case 'own-notes':
      return s.notes[who];
    case 'other-notes':
      return s.notes[other];
    case 'own-legacy':
      return s.legacy[who];
    case 'other-legacy':
      return s.legacy[other];
    default:
      return '0b6c0f1e-5a39-4d8e-9d55-3f1c2a7e8b90';
  }
}

function legacyQuery(form: SidForm, mine: string, theirs: string, target: string): string {
  switch (form) {
    case 'dup-own-first':
      return `?sessionId=${mine}&sessionId=${theirs}`;
    case 'dup-other-first':
      return `?sessionId=${theirs}&sessionId=${mine}`;
    case 'bracket':
      return `?sessionId[0]=${target}`;
    case 'encoded':
      return `?session%49d=${target}`;
    case 'upper-key':
      return `?SessionId=${target}`;
    default:
      return `?sessionId=${target}`;
  }
}

function renderTarget(v: Variant, s: SessionIds): string {
  const t = v.target;
  const other: Who = v.who === 'alice' ? 'bob' : 'alice';
  switch (t.kind) {
    case 'notes':
      return t.slash ? '/mcp/notes/' : '/mcp/notes';
    case 'notes-escape':
      return `/mcp/notes${t.path}`;
    case 'notes-query':
      return `/mcp/notes${t.query}`;
    case 'notes-to-legacy':
      return `/mcp/notes/messages?sessionId=${s.legacy[t.whose === 'own' ? v.who : other]}`;
    case 'legacy-post': {
      const target = s.legacy[t.whose === 'own' ? v.who : other];
      return `/mcp/legacy/messages${legacyQuery(t.form, s.legacy[v.who], s.legacy[other], target)}`;
    }
    case 'legacy-get':
      return '/mcp/legacy';
    case 'admin':
      return '/mcp/admin';
  }
}

/** What a client of this target would send by itself: its own session of that transport. */
function defaultSessions(v: Variant): SessionRef[] {
  const first = v.payload.batch ? v.payload.msgs[0] : v.payload.msg;
  if (first?.method === 'initialize') return [];
  const k = v.target.kind;
  if (k === 'notes' || k === 'notes-query' || k === 'notes-escape') return ['own-notes'];
  return [];
}

/** Turns a variant into the exact request: `n` makes its JSON-RPC ids unique in the run. */
export function render(v: Variant, n: number, apiKeys: Record<Who, string>, s: SessionIds): RenderedRequest {
  const count = v.payload.batch ? v.payload.msgs.length : 1;
  const ids = Array.from({ length: count }, (_x, i) => `v${n}.${i}`);
  const raw = bodyBytes(v, ids);
  const body = compress(raw, v.encoding);
  const headers: Array<[string, string]> = [
    ['Authorization', `Bearer ${apiKeys[v.who]}`],
    ['Content-Type', v.charset === null ? 'application/json' : `application/json; charset=${v.charset.label}`],
    ['Accept', 'application/json, text/event-stream'],
  ];
  if (v.encoding !== null) headers.push(['Content-Encoding', v.encoding]);
  const refs = v.sessionHeaders === 'default' ? defaultSessions(v) : v.sessionHeaders;
  for (const ref of refs) headers.push(['Mcp-Session-Id', sid(ref, v.who, s)]);
  if (refs.some((r) => r.endsWith('notes'))) headers.push(['Mcp-Protocol-Version', '2025-03-26']);
  return { method: v.method, target: renderTarget(v, s), headers, body, ids };
}

/** A short human description of a variant (for counterexample reports). */
export function describe(v: Variant): string {
  const parts = [`${v.who} ${v.method} ${JSON.stringify(v.target)}`];
  parts.push(v.payload.batch ? `batch[${v.payload.msgs.map((m) => ('tool' in m ? `${m.method}:${m.tool}` : m.method)).join(',')}]` : 'tool' in v.payload.msg ? `${v.payload.msg.method}:${v.payload.msg.tool}` : v.payload.msg.method);
  if (JSON.stringify(v.style) !== JSON.stringify(plainStyle)) parts.push(`style=${JSON.stringify(v.style)}`);
  if (v.charset) parts.push(`charset=${JSON.stringify(v.charset)}`);
  if (v.encoding) parts.push(`encoding=${v.encoding}`);
  if (v.sessionHeaders !== 'default') parts.push(`mcp-session-id=${JSON.stringify(v.sessionHeaders)}`);
  if (v.size) parts.push(`size=${v.size.limit}${v.size.delta >= 0 ? '+' : ''}${v.size.delta}`);
  return parts.join(' ');
}
