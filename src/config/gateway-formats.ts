import { createHash } from 'node:crypto';
import { ANY_ORIGIN, isLoopbackName, parseHostPort, parseOrigin } from '../http';
import {
  checkArrayOfObjects,
  checkKeys,
  checkName,
  checkNonEmptyString,
  checkNotJsonError,
  checkStringList,
  fail,
  isPlainObject,
  placeholderProblem,
  resolveFile,
  secretProblem,
  validateStringList,
} from './checks';
import { JWT_ALGORITHMS } from './types';

// ---------------------------------------------------------------------------------------------
// The gateway's arrays. Each format checks shape and uniqueness within its own array; references
// between arrays (server → tunnel, client → server) are checked by the gateway loader.

export function validateTunnels(value: unknown): void {
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

export function validateServers(value: unknown): void {
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

export function validateClients(value: unknown): void {
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

export function validateJwt(value: unknown): void {
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

export function resolveJwtPaths(value: unknown, baseDir: string): unknown {
  if (!isPlainObject(value) || typeof value.jwksFile !== 'string') return value;
  return { ...value, jwksFile: resolveFile(value.jwksFile, baseDir) };
}

export function validateOptionalUrl(value: unknown): void {
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

// Host / Origin allow-lists (gateway): comma-separated or a JSON array, parsed by the very
// functions that check requests, so a listed entry is exactly what matches.


export const validateAllowedHosts = (v: unknown): void =>
  validateStringList(v, 'a host name or address with an optional port (gw.example.com, gw.example.com:8443, 10.0.0.5, [::1])', (e) => parseHostPort(e) !== null);

export const validateAllowedOrigins = (v: unknown): void =>
  validateStringList(v, `an origin like https://app.example.com or http://localhost:5173 (no path), or ${ANY_ORIGIN}`, (e) => e === ANY_ORIGIN || parseOrigin(e) !== null);
