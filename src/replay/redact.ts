import { createHmac, randomBytes } from 'node:crypto';
import type { HeaderPairs, RedactionInfo } from './format';

/** Headers always redacted (credentials and cookies), whatever the configuration says. */
export const DEFAULT_REDACTED_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'x-auth-token',
];

/** Query parameters always redacted (API keys and tokens people put in URLs). */
export const DEFAULT_REDACTED_QUERY: readonly string[] = ['api_key', 'apikey', 'key', 'token', 'access_token', 'secret'];

/** What to redact before anything reaches the disk. */
export interface RedactionOptions {
  /** HMAC key; the same key gives the same placeholder for the same secret. Default: random per recorder. */
  key?: Buffer | string;
  /** Extra header names (case-insensitive). */
  headers?: readonly string[];
  /** Extra query parameter names (case-insensitive). */
  queryParams?: readonly string[];
  /** JSON Pointers into each JSON-RPC message of a JSON body or SSE `data`, e.g. `/params/arguments/token`. */
  pointers?: readonly string[];
  /** Regular expressions (source text, flag `g` added) applied to header values and body text. */
  patterns?: readonly string[];
}

/** Prefix of every placeholder; a recorded string starting with it matches any live value in replay. */
export const PLACEHOLDER_PREFIX = 'REDACTED-hmac-';

/** True when `value` is a redaction placeholder. */
export function isPlaceholder(value: unknown): boolean {
  return typeof value === 'string' && value.startsWith(PLACEHOLDER_PREFIX);
}

/** Splits a JSON Pointer (RFC 6901) into unescaped tokens. */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`not a JSON Pointer: ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Replaces secrets by keyed-HMAC placeholders (`REDACTED-hmac-<22 base64url chars>`): the same secret
 * gives the same placeholder under one key, so replay matching still works, and no secret can be
 * recovered from the file. Each method returns where it redacted, for the record's `redacted` list.
 */
export class Redactor {
  private readonly key: Buffer;
  private readonly headers: Set<string>;
  private readonly query: Set<string>;
  private readonly pointers: string[][];
  private readonly patterns: RegExp[];
  readonly info: RedactionInfo;

  constructor(opts: RedactionOptions = {}) {
    this.key = opts.key === undefined ? randomBytes(32) : Buffer.from(opts.key);
    this.headers = new Set([...DEFAULT_REDACTED_HEADERS, ...(opts.headers ?? [])].map((h) => h.toLowerCase()));
    this.query = new Set([...DEFAULT_REDACTED_QUERY, ...(opts.queryParams ?? [])].map((q) => q.toLowerCase()));
    this.pointers = (opts.pointers ?? []).map(parsePointer);
    this.patterns = (opts.patterns ?? []).map((p) => new RegExp(p, 'g'));
    this.info = {
      method: 'hmac-sha256',
      // Derived from the key, never the key: tells whether two recordings share a key.
      keyId: createHmac('sha256', this.key).update('mcp-tunnel-replay-key-id').digest('hex').slice(0, 16),
      headers: [...this.headers],
      queryParams: [...this.query],
      pointers: [...(opts.pointers ?? [])],
      patterns: [...(opts.patterns ?? [])],
    };
  }

  /** True when redaction reads body text (JSON Pointers or patterns); without them bodies pass as they are. */
  get readsBodyText(): boolean {
    return this.pointers.length > 0 || this.patterns.length > 0;
  }

  /** The placeholder of one secret value. */
  placeholder(secret: string): string {
    return PLACEHOLDER_PREFIX + createHmac('sha256', this.key).update(secret).digest('base64url').slice(0, 22);
  }

  /** Redacts configured headers (whole value) and pattern matches inside other header values. */
  headerPairs(pairs: HeaderPairs, marks: string[]): HeaderPairs {
    return pairs.map(([name, value]) => {
      if (this.headers.has(name.toLowerCase())) {
        marks.push(`header:${name.toLowerCase()}`);
        return [name, this.placeholder(value)];
      }
      return [name, this.text(value, marks)];
    });
  }

  /** Redacts configured query parameter values of a path (`/mcp?token=…`). */
  path(path: string, marks: string[]): string {
    const q = path.indexOf('?');
    if (q < 0) return this.text(path, marks);
    const parts = path
      .slice(q + 1)
      .split('&')
      .map((kv) => {
        const eq = kv.indexOf('=');
        const name = eq < 0 ? kv : kv.slice(0, eq);
        let decoded = name;
        try {
          decoded = decodeURIComponent(name.replace(/\+/g, ' '));
        } catch {
          // A malformed escape: compare the raw name.
        }
        if (eq < 0 || !this.query.has(decoded.toLowerCase())) return kv;
        marks.push(`query:${decoded.toLowerCase()}`);
        return `${name}=${this.placeholder(kv.slice(eq + 1))}`;
      });
    return this.text(`${path.slice(0, q)}?${parts.join('&')}`, marks);
  }

  /** Replaces every match of the configured patterns in `text`. */
  text(text: string, marks: string[]): string {
    let out = text;
    this.patterns.forEach((re, i) => {
      re.lastIndex = 0;
      if (!re.test(out)) return;
      marks.push(`pattern:${i}`);
      re.lastIndex = 0;
      out = out.replace(re, (m) => this.placeholder(m));
    });
    return out;
  }

  /**
   * Redacts a whole JSON text: pointer paths in each JSON-RPC message (each element of a batch), then
   * patterns on the result. A text that is not JSON gets the patterns only. Unchanged text is returned
   * as is, so unredacted bodies stay byte-exact.
   */
  json(text: string, marks: string[]): string {
    if (this.pointers.length > 0) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return this.text(text, marks);
      }
      const before = marks.length;
      const messages = Array.isArray(value) ? value : [value];
      for (const msg of messages) for (const ptr of this.pointers) this.atPointer(msg, ptr, marks);
      if (marks.length > before) return this.text(JSON.stringify(value), marks);
    }
    return this.text(text, marks);
  }

  private atPointer(root: unknown, tokens: string[], marks: string[]): void {
    let node: unknown = root;
    for (let i = 0; i < tokens.length - 1; i++) {
      if (typeof node !== 'object' || node === null) return;
      node = (node as Record<string, unknown>)[tokens[i]!];
    }
    const last = tokens[tokens.length - 1];
    if (last === undefined || typeof node !== 'object' || node === null) return;
    const holder = node as Record<string, unknown>;
    if (!Object.prototype.hasOwnProperty.call(holder, last)) return;
    const v = holder[last];
    holder[last] = this.placeholder(typeof v === 'string' ? v : JSON.stringify(v));
    marks.push('/' + tokens.map((t) => t.replace(/~/g, '~0').replace(/\//g, '~1')).join('/'));
  }
}
