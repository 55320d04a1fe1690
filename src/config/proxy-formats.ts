import { EgressRuleError, parseEgressRule } from './egress-rules';
import { checkKeys, checkName, checkNotJsonError, fail, isPlainObject, resolveFile, type Plain } from './checks';

// ---------------------------------------------------------------------------------------------
// Upstream TLS, per server (proxy config file only).

/** The fields of an `upstream.servers.<name>.tls` object. */
export const UPSTREAM_TLS_KEYS = ['cert', 'key', 'ca', 'rejectUnauthorized', 'servername'] as const;
const UPSTREAM_TLS_PATHS = ['cert', 'key', 'ca'] as const;

export function validateUpstreamServers(value: unknown): void {
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

export function resolveUpstreamServers(value: unknown, baseDir: string): unknown {
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
 * hex (64 digits, either case, `:` between bytes allowed), base64 of the 32 bytes (standard with
 * `=` padding as HPKP and `openssl … | base64` print it, or base64url without padding), and the
 * whole output line of `openssl dgst -sha256` (`SHA2-256(stdin)= <hex>`).
 */
export function normalizePin(text: string): string | null {
  const t = stripDigestLabel(text.trim());
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

/**
 * `openssl dgst -sha256` prints `SHA2-256(stdin)= <hex>` (OpenSSL 3), `SHA256(stdin)= <hex>` (1.1) or
 * `(stdin)= <hex>` (older): the recipe in docs/operations.md pipes into it, so its whole output is a
 * pin too. Only a SHA-256 label is stripped; `SHA1(…)=` stays and is refused as not a SHA-256 pin.
 */
function stripDigestLabel(t: string): string {
  const m = /^(?:SHA2-256|SHA256|sha256)?\([^)]*\)=\s*(\S+)$/.exec(t);
  return m?.[1] ?? t;
}

/** `a, b` (env var) → `['a', 'b']`; empty items are dropped, so `MCP_TUNNEL_PIN_SHA256=` means none. */
export function coercePinList(raw: string): unknown {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function validatePins(value: unknown): void {
  if (!Array.isArray(value)) fail('must be a list of SHA-256 pins (comma-separated in the env var)');
  if (value.length > MAX_PINS) fail(`must list at most ${MAX_PINS} pins`);
  value.forEach((pin, i) => {
    if (typeof pin !== 'string' || normalizePin(pin) === null) {
      fail('must be a SHA-256 of a SubjectPublicKeyInfo: 64 hex digits (or `openssl dgst -sha256` output), or 32 bytes in base64/base64url', { path: `[${i}]`, value: pin });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Egress allowlist (proxy): a comma-separated env var or a JSON array of rule strings.


export function validateEgressRules(value: unknown): void {
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
