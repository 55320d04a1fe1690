import { createHash } from 'node:crypto';
import * as net from 'node:net';
import * as path from 'node:path';
import convict from 'convict';
import { EgressRuleError, parseEgressRule } from '../dispatch/egress';
import { LOG_LEVELS, MIN_SECRET_BYTES, NAME_PATTERN } from './constants';
import { JWT_ALGORITHMS } from './types';
import { validatePolicyRules } from './policy';
import { ANY_ORIGIN, parseHostPort, parseOrigin } from '../gateway/host-origin';

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

interface FormatSpec {
  /** Throws FieldProblem (or Error) when the value is unacceptable. */
  validate: (value: unknown) => void;
  /** Turns a string (from an env var, an override, or a file) into the typed value. */
  coerce?: (raw: string) => unknown;
  /** Rewrites relative file paths in a value read from a config file against the file's folder. */
  resolvePaths?: (value: unknown, baseDir: string) => unknown;
}

export type Plain = Record<string, unknown>;

/** A non-null, non-array object (what JSON.parse makes of `{...}`). */
export function isPlainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Coercions: strict, so that a typo is an error instead of a silent surprise. (convict's own
// `boolean` makes everything but "false" true, so MCP_TUNNEL_ALLOW_INSECURE=0 would enable it.)

function coerceInteger(raw: string): unknown {
  const text = raw.trim();
  return /^[0-9]+$/.test(text) ? Number(text) : raw;
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

function coerceBoolean(raw: string): unknown {
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return raw;
}

/** An empty env var (`MCP_TUNNEL_CA_FILE=` in an env file) means "not set". */
function coerceOptional(raw: string): unknown {
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

function fail(problem: string, sub?: { path: string; value: unknown }): never {
  throw new FieldProblem(problem, sub);
}

function checkInteger(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    fail(max === Number.MAX_SAFE_INTEGER ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`);
  }
}

function checkNotJsonError(value: unknown): void {
  if (value instanceof InvalidJson) fail(value.detail);
}

function checkOptionalString(value: unknown): void {
  if (value === null) return;
  if (typeof value !== 'string') fail('must be a string');
  if (value.length === 0) fail('must not be empty');
}

/**
 * Secrets and API keys in the example configs start with this, so that a copied example can never
 * run with a publicly known credential.
 */
export const PLACEHOLDER_PREFIX = 'CHANGE-ME';

function placeholderProblem(value: string): string | null {
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

function checkKeys(obj: Plain, allowed: readonly string[], at: string): void {
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

function checkName(value: unknown, at: string): string {
  if (typeof value === 'string' && RESERVED_NAMES.has(value)) fail('is a reserved name', { path: at, value });
  if (!isValidName(value)) fail(`must match ${String(NAME_PATTERN)}`, { path: at, value });
  return value;
}

function checkArrayOfObjects(value: unknown): Plain[] {
  checkNotJsonError(value);
  if (!Array.isArray(value)) fail('must be a JSON array');
  value.forEach((item, i) => {
    if (!isPlainObject(item)) fail('must be an object', { path: `[${i}]`, value: item });
  });
  return value as Plain[];
}

function resolveFile(value: unknown, baseDir: string): unknown {
  return typeof value === 'string' && value !== '' ? path.resolve(baseDir, value) : value;
}

// ---------------------------------------------------------------------------------------------
// The gateway's arrays. Each format checks shape and uniqueness within its own array; references
// between arrays (server → tunnel, client → server) are checked by the gateway loader.

function validateTunnels(value: unknown): void {
  const seen = new Map<string, number>();
  checkArrayOfObjects(value).forEach((t, i) => {
    checkKeys(t, ['id', 'secrets'], `[${i}]`);
    const id = checkName(t.id, `[${i}].id`);
    const first = seen.get(id);
    if (first !== undefined) fail(`duplicate tunnel id (already used by tunnels[${first}])`, { path: `[${i}].id`, value: id });
    seen.set(id, i);
    const secrets = t.secrets;
    if (!Array.isArray(secrets)) fail('must be an array of strings', { path: `[${i}].secrets`, value: secrets });
    if (secrets.length === 0) fail('must not be empty', { path: `[${i}].secrets`, value: secrets });
    secrets.forEach((s, j) => {
      const at = `[${i}].secrets[${j}]`;
      if (typeof s !== 'string') fail('must be a string', { path: at, value: s });
      const problem = secretProblem(s);
      if (problem !== null) fail(problem, { path: at, value: s });
    });
  });
}

function validateServers(value: unknown): void {
  const seen = new Map<string, number>();
  checkArrayOfObjects(value).forEach((s, i) => {
    checkKeys(s, ['name', 'tunnel', 'url'], `[${i}]`);
    const name = checkName(s.name, `[${i}].name`);
    const first = seen.get(name);
    if (first !== undefined) fail(`duplicate server name (already used by servers[${first}])`, { path: `[${i}].name`, value: name });
    seen.set(name, i);
    if (typeof s.tunnel !== 'string' || s.tunnel === '') fail('must be a tunnel id', { path: `[${i}].tunnel`, value: s.tunnel });
    const url = s.url;
    let protocol: string | null = null;
    try {
      protocol = typeof url === 'string' ? new URL(url).protocol : null;
    } catch {
      protocol = null;
    }
    if (protocol !== 'http:' && protocol !== 'https:') fail('must be an http: or https: URL', { path: `[${i}].url`, value: url });
  });
}

/** `apiKeySha256`: the hex SHA-256 of an API key. */
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

function validateClients(value: unknown): void {
  const names = new Map<string, number>();
  const keys = new Map<string, number>();
  checkArrayOfObjects(value).forEach((c, i) => {
    checkKeys(c, ['name', 'apiKey', 'apiKeySha256', 'servers'], `[${i}]`);
    if (typeof c.name !== 'string' || c.name === '') fail('must be a non-empty string', { path: `[${i}].name`, value: c.name });
    const firstName = names.get(c.name);
    if (firstName !== undefined) fail(`duplicate client name (already used by clients[${firstName}])`, { path: `[${i}].name`, value: c.name });
    names.set(c.name, i);
    const hasPlain = c.apiKey !== undefined;
    const hasHash = c.apiKeySha256 !== undefined;
    if (hasPlain === hasHash) fail('must set exactly one of apiKey and apiKeySha256', { path: `[${i}]`, value: c });
    let digest: string;
    if (hasPlain) {
      if (typeof c.apiKey !== 'string') fail('must be a string', { path: `[${i}].apiKey`, value: c.apiKey });
      if (c.apiKey === '') fail('must not be empty', { path: `[${i}].apiKey`, value: c.apiKey });
      const placeholder = placeholderProblem(c.apiKey);
      if (placeholder !== null) fail(placeholder, { path: `[${i}].apiKey`, value: c.apiKey });
      digest = createHash('sha256').update(c.apiKey, 'utf8').digest('hex');
    } else {
      if (typeof c.apiKeySha256 !== 'string' || !SHA256_HEX.test(c.apiKeySha256)) {
        fail('must be the SHA-256 of the API key as 64 hex digits (e.g. `printf %s "$KEY" | sha256sum`)', { path: `[${i}].apiKeySha256`, value: c.apiKeySha256 });
      }
      digest = c.apiKeySha256.toLowerCase();
    }
    const firstKey = keys.get(digest);
    if (firstKey !== undefined) {
      const field = hasPlain ? 'apiKey' : 'apiKeySha256';
      fail(`duplicate API key (same as clients[${firstKey}])`, { path: `[${i}].${field}`, value: hasPlain ? c.apiKey : c.apiKeySha256 });
    }
    keys.set(digest, i);
    const servers = c.servers;
    if (!Array.isArray(servers)) fail('must be an array of server names (or "*")', { path: `[${i}].servers`, value: servers });
    servers.forEach((name, j) => {
      if (typeof name !== 'string' || name === '') fail('must be a server name or "*"', { path: `[${i}].servers[${j}]`, value: name });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// JWT client authentication (`auth.jwt`): shape only; defaults and references are the loader's.

/** Keys of an `auth.jwt` object. */
export const JWT_KEYS = ['issuer', 'audience', 'jwksUrl', 'jwksFile', 'clockSkewSec', 'algorithms', 'clientClaim', 'scopeClaim', 'jwksCacheSec', 'jwksRefetchSec', 'servers'] as const;

function isLoopbackName(hostname: string): boolean {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (host.toLowerCase() === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

function checkNonEmptyString(value: unknown, at: string): void {
  if (typeof value !== 'string' || value.trim() === '') fail('must be a non-empty string', { path: at, value });
}

function checkStringList(value: unknown, at: string, what: string): void {
  if (!Array.isArray(value) || value.length === 0) fail(`must be a non-empty array of ${what}`, { path: at, value });
  value.forEach((v, j) => checkNonEmptyString(v, `${at}[${j}]`));
}

function validateJwtServerRules(value: unknown): void {
  if (!Array.isArray(value)) fail('must be an array of rules {"scope"|"claim","value", "servers"}', { path: '.servers', value });
  value.forEach((rule, i) => {
    const at = `.servers[${i}]`;
    if (!isPlainObject(rule)) fail('must be an object', { path: at, value: rule });
    checkKeys(rule, ['scope', 'claim', 'value', 'servers'], at);
    const byScope = rule.scope !== undefined;
    const byClaim = rule.claim !== undefined;
    if (byScope === byClaim) fail('must set exactly one of "scope" and "claim"', { path: at, value: rule });
    if (byScope) {
      checkNonEmptyString(rule.scope, `${at}.scope`);
      // RFC 6749 §3.3 scope-token: printable ASCII without space, `"` and `\` (it goes into WWW-Authenticate).
      if (!/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(rule.scope as string)) fail('must be a scope token (printable ASCII, no space, quote or backslash)', { path: `${at}.scope`, value: rule.scope });
      if (rule.value !== undefined) fail('is only used with "claim"', { path: `${at}.value`, value: rule.value });
    } else {
      checkNonEmptyString(rule.claim, `${at}.claim`);
      const v = rule.value;
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail('must be a string, number or boolean', { path: `${at}.value`, value: v });
    }
    checkStringList(rule.servers, `${at}.servers`, 'server names (or "*")');
  });
}

function validateJwt(value: unknown): void {
  if (value === null) return;
  checkNotJsonError(value);
  if (!isPlainObject(value)) fail('must be an object (or null for no JWT authentication)');
  checkKeys(value, JWT_KEYS, '');
  checkNonEmptyString(value.issuer, '.issuer');
  const aud = value.audience;
  if (typeof aud === 'string') checkNonEmptyString(aud, '.audience');
  else checkStringList(aud, '.audience', 'strings');
  const hasUrl = value.jwksUrl !== undefined && value.jwksUrl !== null;
  const hasFile = value.jwksFile !== undefined && value.jwksFile !== null;
  if (hasUrl === hasFile) fail('must set exactly one of "jwksUrl" and "jwksFile"', { path: '.jwksUrl', value: value.jwksUrl });
  if (hasUrl) {
    let url: URL | null = null;
    try {
      url = typeof value.jwksUrl === 'string' ? new URL(value.jwksUrl) : null;
    } catch {
      url = null;
    }
    if (url === null || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackName(url.hostname)))) {
      fail('must be an https: URL (http: only on a loopback host)', { path: '.jwksUrl', value: value.jwksUrl });
    }
  } else {
    checkNonEmptyString(value.jwksFile, '.jwksFile');
  }
  const ints: Array<[string, number, number]> = [
    ['clockSkewSec', 0, 3600],
    ['jwksCacheSec', 1, 86400],
    ['jwksRefetchSec', 0, 86400],
  ];
  for (const [k, min, max] of ints) {
    const v = value[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(`must be an integer from ${min} to ${max}`, { path: `.${k}`, value: v });
  }
  if (value.algorithms !== undefined) {
    checkStringList(value.algorithms, '.algorithms', 'algorithm names');
    (value.algorithms as string[]).forEach((a, j) => {
      if (!(JWT_ALGORITHMS as readonly string[]).includes(a)) {
        fail(`must be one of ${JWT_ALGORITHMS.join(', ')} (asymmetric only; "none" and HS* are refused)`, { path: `.algorithms[${j}]`, value: a });
      }
    });
  }
  for (const k of ['clientClaim', 'scopeClaim'] as const) {
    if (value[k] !== undefined) checkNonEmptyString(value[k], `.${k}`);
  }
  if (value.servers !== undefined) validateJwtServerRules(value.servers);
}

function resolveJwtPaths(value: unknown, baseDir: string): unknown {
  if (!isPlainObject(value) || typeof value.jwksFile !== 'string') return value;
  return { ...value, jwksFile: resolveFile(value.jwksFile, baseDir) };
}

function validateOptionalUrl(value: unknown): void {
  if (value === null) return;
  let url: URL | null = null;
  try {
    url = typeof value === 'string' ? new URL(value) : null;
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) fail('must be an http: or https: URL');
  if (url.search !== '' || url.hash !== '') fail('must not have a query or fragment');
}

// ---------------------------------------------------------------------------------------------
// Upstream TLS, per server (proxy config file only).

/** The fields of an `upstream.servers.<name>.tls` object. */
export const UPSTREAM_TLS_KEYS = ['cert', 'key', 'ca', 'rejectUnauthorized', 'servername'] as const;
const UPSTREAM_TLS_PATHS = ['cert', 'key', 'ca'] as const;

function validateUpstreamServers(value: unknown): void {
  checkNotJsonError(value);
  if (!isPlainObject(value)) fail('must be an object keyed by server name');
  for (const [name, entry] of Object.entries(value)) {
    checkName(name, `.${name}`);
    if (!isPlainObject(entry)) fail('must be an object', { path: `.${name}`, value: entry });
    checkKeys(entry, ['tls'], `.${name}`);
    const tls = entry.tls;
    if (!isPlainObject(tls)) fail('must be an object', { path: `.${name}.tls`, value: tls });
    checkKeys(tls, UPSTREAM_TLS_KEYS, `.${name}.tls`);
    for (const k of ['cert', 'key', 'ca', 'servername'] as const) {
      if (!(k in tls)) continue;
      const v = tls[k];
      if (v !== null && (typeof v !== 'string' || v === '')) fail('must be a non-empty string or null', { path: `.${name}.tls.${k}`, value: v });
    }
    if ('rejectUnauthorized' in tls && typeof tls.rejectUnauthorized !== 'boolean') {
      fail('must be true or false', { path: `.${name}.tls.rejectUnauthorized`, value: tls.rejectUnauthorized });
    }
  }
}

function resolveUpstreamServers(value: unknown, baseDir: string): unknown {
  if (!isPlainObject(value)) return value;
  // fromEntries defines own properties: a "__proto__" key stays a key (and fails validation)
  // instead of replacing the prototype as `out[name] = …` would.
  return Object.fromEntries(
    Object.entries(value).map(([name, entry]) => {
      if (!isPlainObject(entry) || !isPlainObject(entry.tls)) return [name, entry];
      const tls: Plain = { ...entry.tls };
      for (const k of UPSTREAM_TLS_PATHS) if (k in tls) tls[k] = resolveFile(tls[k], baseDir);
      return [name, { ...entry, tls }];
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Certificate pins (proxy): SHA-256 of the gateway certificate's SubjectPublicKeyInfo.

/** Most pins accepted: a current key and a few rollover keys are plenty. */
export const MAX_PINS = 16;

/**
 * The pin as 64 lower-case hex digits, or null when `text` is not a SHA-256 pin. Accepted spellings:
 * hex (64 digits, either case, `:` between bytes allowed) and base64 of the 32 bytes (standard with
 * `=` padding as HPKP and `openssl … | base64` print it, or base64url without padding).
 */
export function normalizePin(text: string): string | null {
  const t = text.trim();
  const hex = t.replace(/:/g, '');
  if (/^[0-9a-fA-F]{64}$/.test(hex) && (hex === t || /^([0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$/.test(t))) return hex.toLowerCase();
  if (/^[A-Za-z0-9+/]{43}=$/.test(t) || /^[A-Za-z0-9_-]{43}$/.test(t)) {
    const bytes = Buffer.from(t, t.endsWith('=') ? 'base64' : 'base64url');
    // Re-encoding rejects non-canonical trailing bits, so one pin has exactly one spelling per encoding.
    const again = t.endsWith('=') ? bytes.toString('base64') : bytes.toString('base64url');
    if (bytes.length === 32 && again === t) return bytes.toString('hex');
  }
  return null;
}

/** `a, b` (env var) → `['a', 'b']`; empty items are dropped, so `MCP_TUNNEL_PIN_SHA256=` means none. */
function coercePinList(raw: string): unknown {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function validatePins(value: unknown): void {
  if (!Array.isArray(value)) fail('must be a list of SHA-256 pins (comma-separated in the env var)');
  if (value.length > MAX_PINS) fail(`must list at most ${MAX_PINS} pins`);
  value.forEach((pin, i) => {
    if (typeof pin !== 'string' || normalizePin(pin) === null) {
      fail('must be a SHA-256 of a SubjectPublicKeyInfo: 64 hex digits, or 32 bytes in base64/base64url', { path: `[${i}]`, value: pin });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Egress allowlist (proxy): a comma-separated env var or a JSON array of rule strings.

function coerceEgressRules(raw: string): unknown {
  const text = raw.trim();
  if (text.startsWith('[')) return parseJsonSafely(text);
  return text === '' ? [] : text.split(',').map((r) => r.trim());
}

function validateEgressRules(value: unknown): void {
  checkNotJsonError(value);
  if (!Array.isArray(value)) fail('must be a list of rules (comma-separated, or a JSON array of strings)');
  value.forEach((rule, i) => {
    if (typeof rule !== 'string') fail('must be a string', { path: `[${i}]`, value: rule });
    try {
      parseEgressRule(rule);
    } catch (err) {
      fail(err instanceof EgressRuleError ? `rule "${err.rule}" ${err.problem}` : 'is not a valid rule', { path: `[${i}]`, value: rule });
    }
  });
}

// Host / Origin allow-lists (gateway): comma-separated or a JSON array, parsed by the very
// functions that check requests, so a listed entry is exactly what matches.

function validateStringList(value: unknown, what: string, ok: (entry: string) => boolean): void {
  checkNotJsonError(value);
  if (!Array.isArray(value)) fail(`must be a list of ${what} (comma-separated, or a JSON array of strings)`);
  value.forEach((entry, i) => {
    if (typeof entry !== 'string' || !ok(entry)) fail(`must be ${what}`, { path: `[${i}]`, value: entry });
  });
}

const validateAllowedHosts = (v: unknown): void =>
  validateStringList(v, 'a host name or address with an optional port (gw.example.com, gw.example.com:8443, 10.0.0.5, [::1])', (e) => parseHostPort(e) !== null);

const validateAllowedOrigins = (v: unknown): void =>
  validateStringList(v, `an origin like https://app.example.com or http://localhost:5173 (no path), or ${ANY_ORIGIN}`, (e) => e === ANY_ORIGIN || parseOrigin(e) !== null);

// ---------------------------------------------------------------------------------------------

/** The formats the schemas use, by convict format name. */
export const FORMATS = {
  'mcp-tunnel-port': { validate: (v) => checkInteger(v, 0, 65535), coerce: coerceInteger },
  'mcp-tunnel-nat': { validate: (v) => checkInteger(v, 0), coerce: coerceInteger },
  'mcp-tunnel-positive-int': { validate: (v) => checkInteger(v, 1), coerce: coerceInteger },
  'mcp-tunnel-boolean': {
    validate: (v) => {
      if (typeof v !== 'boolean') fail('must be true or false');
    },
    coerce: coerceBoolean,
  },
  'mcp-tunnel-text': {
    validate: (v) => {
      if (typeof v !== 'string') fail('must be a string');
      if (v.trim() === '') fail('must not be empty');
    },
  },
  'mcp-tunnel-log-level': {
    validate: (v) => {
      if (typeof v !== 'string' || !(LOG_LEVELS as readonly string[]).includes(v)) fail(`must be one of ${LOG_LEVELS.join(', ')}`);
    },
    coerce: (raw) => raw.trim().toLowerCase(),
  },
  'mcp-tunnel-optional-string': { validate: checkOptionalString, coerce: coerceOptional },
  'mcp-tunnel-optional-path': { validate: checkOptionalString, coerce: coerceOptional, resolvePaths: resolveFile },
  'mcp-tunnel-tunnels': { validate: validateTunnels, coerce: parseJsonSafely },
  'mcp-tunnel-servers': { validate: validateServers, coerce: parseJsonSafely },
  'mcp-tunnel-clients': { validate: validateClients, coerce: parseJsonSafely },
  'mcp-tunnel-jwt': { validate: validateJwt, coerce: (raw) => (raw.trim() === '' ? null : parseJsonSafely(raw)), resolvePaths: resolveJwtPaths },
  'mcp-tunnel-optional-url': { validate: validateOptionalUrl, coerce: coerceOptional },
  'mcp-tunnel-pins': { validate: validatePins, coerce: coercePinList },
  'mcp-tunnel-upstream-servers': {
    validate: validateUpstreamServers,
    coerce: parseJsonSafely,
    resolvePaths: resolveUpstreamServers,
  },
  'mcp-tunnel-egress-rules': { validate: validateEgressRules, coerce: coerceEgressRules },
  'mcp-tunnel-allowed-hosts': { validate: validateAllowedHosts, coerce: coerceEgressRules },
  'mcp-tunnel-allowed-origins': { validate: validateAllowedOrigins, coerce: coerceEgressRules },
  'mcp-tunnel-json-paths': {
    validate: (v) => {
      checkNotJsonError(v);
      if (!Array.isArray(v)) fail('must be a list of dot paths (comma-separated, or a JSON array of strings)');
      v.forEach((p, i) => {
        if (typeof p !== 'string' || !/^(\*|[A-Za-z0-9_$-]+)(\.(\*|[A-Za-z0-9_$-]+))*$/.test(p)) {
          fail('must be a dot path like params.arguments.password (* for any key)', { path: `[${i}]`, value: p });
        }
      });
    },
    coerce: coerceEgressRules,
  },
  'mcp-tunnel-policy-rules': {
    validate: (v) => {
      checkNotJsonError(v);
      validatePolicyRules(v, fail);
    },
    coerce: parseJsonSafely,
  },
} satisfies Record<string, FormatSpec>;

export type FormatName = keyof typeof FORMATS;

/** The format registered under `name`, or undefined for a name not defined here. */
export function formatSpec(name: string): FormatSpec | undefined {
  return (FORMATS as Record<string, FormatSpec | undefined>)[name];
}

// convict keeps formats in a process-wide registry; the prefixed names cannot clash with others.
for (const [name, spec] of Object.entries(FORMATS) as Array<[string, FormatSpec]>) {
  convict.addFormat({ name, validate: (v: unknown) => spec.validate(v), coerce: spec.coerce });
}
