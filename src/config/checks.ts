import * as path from 'node:path';
import { MIN_SECRET_BYTES, NAME_PATTERN } from './constants';

/**
 * The building blocks of the config formats (formats.ts): the typed failure a check throws, the
 * strict coercions from env-var strings, and small checks shared by the gateway's and the proxy's
 * formats. Nothing here knows a config key.
 */

/**
 * A validation failure inside one config value. `path` locates it below the key (`[0].secrets`),
 * `value` is what sits there; both are absent when the whole value is at fault.
 */
export class FieldProblem extends Error {
  constructor(
    readonly problem: string,
    readonly sub?: { path: string; value: unknown },
  ) {
    super(problem);
    this.name = 'FieldProblem';
  }
}

/** An env var / string that should have held JSON but did not; kept so validation can report it. */
export class InvalidJson {
  constructor(readonly detail: string) {}
}

export type Plain = Record<string, unknown>;

/** A non-null, non-array object (what JSON.parse makes of `{...}`). */
export function isPlainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Coercions: strict, so that a typo is an error instead of a silent surprise. (convict's own
// `boolean` makes everything but "false" true, so MCP_TUNNEL_ALLOW_INSECURE=0 would enable it.)

export function coerceInteger(raw: string): unknown {
  const text = raw.trim();
  return /^[0-9]+$/.test(text) ? Number(text) : raw;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

export function coerceBoolean(raw: string): unknown {
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return raw;
}

/** An empty env var (`MCP_TUNNEL_CA_FILE=` in an env file) means "not set". */
export function coerceOptional(raw: string): unknown {
  return raw === '' ? null : raw;
}

/**
 * JSON.parse, reporting only the position of a syntax error: V8's own message quotes the text
 * around it, which may be a secret.
 */
export function parseJsonSafely(raw: string): unknown {
  let reserved = false;
  try {
    const value = JSON.parse(raw, (key, v: unknown) => {
      if (key !== '__proto__') return v;
      reserved = true;
      return undefined;
    }) as unknown;
    // Copies of a parsed object (convict clones values) would drop or misapply such a key.
    return reserved ? new InvalidJson('must not contain a "__proto__" key') : value;
  } catch (err) {
    const position = err instanceof Error ? /at position (\d+)/.exec(err.message)?.[1] : undefined;
    return new InvalidJson(position === undefined ? 'is not valid JSON' : `is not valid JSON (error at character ${position})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Small checks shared by the formats.

export function fail(problem: string, sub?: { path: string; value: unknown }): never {
  throw new FieldProblem(problem, sub);
}

export function checkInteger(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`);
  }
}

export function checkNotJsonError(value: unknown): void {
  if (value instanceof InvalidJson) fail(value.detail);
}

export function checkOptionalString(value: unknown): void {
  if (value === null) return;
  if (typeof value !== 'string') fail('must be a string');
  if (value.length === 0) fail('must not be empty');
}

/**
 * Secrets and API keys in the example configs start with this, so that a copied example can never
 * run with a publicly known credential.
 */
export const PLACEHOLDER_PREFIX = 'CHANGE-ME';

export function placeholderProblem(value: string): string | null {
  return value.toUpperCase().startsWith(PLACEHOLDER_PREFIX)
    ? 'is the example placeholder; replace it with a random value (e.g. `mcp-tunnel secret generate`)'
    : null;
}

/**
 * Problem with a tunnel secret (empty, placeholder, shorter than MIN_SECRET_BYTES), or null when it is
 * acceptable. The placeholder check comes first: it is the more useful message for a copied example.
 */
export function secretProblem(secret: string): string | null {
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes === 0) return 'must not be empty';
  const placeholder = placeholderProblem(secret);
  if (placeholder !== null) return placeholder;
  if (bytes < MIN_SECRET_BYTES) {
    return `must be at least ${MIN_SECRET_BYTES} bytes (it has ${bytes}); generate one with \`mcp-tunnel secret generate\``;
  }
  return null;
}

export function checkKeys(obj: Plain, allowed: readonly string[], at: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail('is not a known option', { path: `${at}.${k}`, value: undefined });
  }
}

/** Names that would alias Object.prototype members when used as keys (`servers["__proto__"]`). */
const RESERVED_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** A valid tunnel id / server name: NAME_PATTERN, and not a reserved property name. */
export function isValidName(value: unknown): value is string {
  return typeof value === 'string' && NAME_PATTERN.test(value) && !RESERVED_NAMES.has(value);
}

export function checkName(value: unknown, at: string): string {
  if (typeof value === 'string' && RESERVED_NAMES.has(value)) fail('is a reserved name', { path: at, value });
  if (!isValidName(value)) fail(`must match ${String(NAME_PATTERN)}`, { path: at, value });
  return value;
}

export function checkArrayOfObjects(value: unknown): Plain[] {
  checkNotJsonError(value);
  if (!Array.isArray(value)) fail('must be a JSON array');
  value.forEach((item, i) => {
    if (!isPlainObject(item)) fail('must be an object', { path: `[${i}]`, value: item });
  });
  return value as Plain[];
}

export function resolveFile(value: unknown, baseDir: string): unknown {
  return typeof value === 'string' && value !== '' ? path.resolve(baseDir, value) : value;
}


export function checkNonEmptyString(value: unknown, at: string): void {
  if (typeof value !== 'string' || value.trim() === '') fail('must be a non-empty string', { path: at, value });
}

export function checkStringList(value: unknown, at: string, what: string): void {
  if (!Array.isArray(value) || value.length === 0) fail(`must be a non-empty array of ${what}`, { path: at, value });
  value.forEach((v, j) => checkNonEmptyString(v, `${at}[${j}]`));
}


/** A list from an env var: comma-separated, or a JSON array when it starts with `[`. */
export function coerceList(raw: string): unknown {
  const text = raw.trim();
  if (text.startsWith('[')) return parseJsonSafely(text);
  return text === '' ? [] : text.split(',').map((r) => r.trim());
}

export function validateStringList(value: unknown, what: string, ok: (entry: string) => boolean): void {
  checkNotJsonError(value);
  if (!Array.isArray(value)) fail(`must be a list of ${what} (comma-separated, or a JSON array of strings)`);
  value.forEach((entry, i) => {
    if (typeof entry !== 'string' || !ok(entry)) fail(`must be ${what}`, { path: `[${i}]`, value: entry });
  });
}
