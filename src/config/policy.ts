/**
 * Configuration of the gateway's request policy (docs/policy.md): which tools a client may call on
 * a server, and per-client rate and concurrency limits. The shape check lives here; references to
 * servers are checked by the gateway loader, like those of `clients[].servers`.
 */

/** Which identities a rule applies to. Every field given must match (AND); at least one is given. */
export interface PolicyMatch {
  /** Client name (`clients[].name`), or `"*"` for every client. Null: not constrained. */
  client: string | null;
  /**
   * An OAuth scope the identity must carry. Hook for JWT clients: matched against
   * `identity.scopes` when the authenticator provides it; an identity without scopes never matches.
   */
  scope: string | null;
}

/** One policy rule, resolved (defaults applied). */
export interface PolicyRuleConfig {
  /** Stable name shown in audit records and errors; default `rules[<index>]`. */
  name: string;
  match: PolicyMatch;
  /** Server names the rule applies to; `["*"]` (the default) = every server. */
  servers: string[];
  /** Tool patterns (`*` wildcard) enforced on `tools/call` and applied to `tools/list`; null = no tool rule. */
  tools: { allow: string[] | null; deny: string[] } | null;
  /** Token bucket per client: `ratePerSec` refill, `burst` capacity; null = unlimited. */
  rateLimit: { ratePerSec: number; burst: number } | null;
  /** Concurrent POST requests per client; null = unlimited. */
  maxConcurrent: number | null;
}

export interface PolicyConfig {
  rules: PolicyRuleConfig[];
  /** Largest request body the gateway reads before forwarding when a tool rule applies (more: 413). */
  inspectLimitBytes: number;
}

/** The default: no rules, 64 KiB. */
export const DEFAULT_POLICY: PolicyConfig = { rules: [], inspectLimitBytes: 64 * 1024 };

/** `"*"` in a rule's `servers` or `match.client`. */
export const POLICY_ANY = '*';

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A problem at `path` below the key; the loader turns it into a ConfigError. */
export type PolicyFail = (problem: string, sub?: { path: string; value: unknown }) => never;

function checkStringList(v: unknown, at: string, fail: PolicyFail): void {
  if (!Array.isArray(v)) fail('must be an array of strings', { path: at, value: v });
  v.forEach((s, j) => {
    if (typeof s !== 'string' || s === '') fail('must be a non-empty string', { path: `${at}[${j}]`, value: s });
  });
}

function checkOnly(obj: Plain, allowed: readonly string[], at: string, fail: PolicyFail): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) fail('is not a known option', { path: `${at}.${k}`, value: undefined });
}

/** Validates the raw `policy.rules` array (from the file, or JSON in `MCP_TUNNEL_POLICY_RULES`). */
export function validatePolicyRules(value: unknown, fail: PolicyFail): void {
  if (!Array.isArray(value)) fail('must be a JSON array of rules');
  const names = new Map<string, number>();
  value.forEach((r, i) => {
    const at = `[${i}]`;
    if (!isPlain(r)) fail('must be an object', { path: at, value: r });
    checkOnly(r, ['name', 'match', 'servers', 'tools', 'rateLimit', 'maxConcurrent'], at, fail);
    if (r.name !== undefined) {
      if (typeof r.name !== 'string' || r.name === '') fail('must be a non-empty string', { path: `${at}.name`, value: r.name });
      const first = names.get(r.name);
      if (first !== undefined) fail(`duplicate rule name (already used by rules[${first}])`, { path: `${at}.name`, value: r.name });
      names.set(r.name, i);
    }
    const m = r.match;
    if (!isPlain(m)) fail('must be an object such as {"client": "alice"}', { path: `${at}.match`, value: m });
    checkOnly(m, ['client', 'scope'], `${at}.match`, fail);
    if (m.client === undefined && m.scope === undefined) fail('must name a client or a scope', { path: `${at}.match`, value: m });
    for (const k of ['client', 'scope'] as const) {
      if (m[k] !== undefined && (typeof m[k] !== 'string' || m[k] === '')) fail('must be a non-empty string', { path: `${at}.match.${k}`, value: m[k] });
    }
    if (r.servers !== undefined) checkStringList(r.servers, `${at}.servers`, fail);
    if (r.tools !== undefined) {
      const t = r.tools;
      if (!isPlain(t)) fail('must be an object {"allow": [...], "deny": [...]}', { path: `${at}.tools`, value: t });
      checkOnly(t, ['allow', 'deny'], `${at}.tools`, fail);
      if (t.allow === undefined && t.deny === undefined) fail('must have "allow" or "deny"', { path: `${at}.tools`, value: t });
      if (t.allow !== undefined) checkStringList(t.allow, `${at}.tools.allow`, fail);
      if (t.deny !== undefined) checkStringList(t.deny, `${at}.tools.deny`, fail);
    }
    if (r.rateLimit !== undefined) {
      const l = r.rateLimit;
      if (!isPlain(l)) fail('must be an object {"ratePerSec": n, "burst": n}', { path: `${at}.rateLimit`, value: l });
      checkOnly(l, ['ratePerSec', 'burst'], `${at}.rateLimit`, fail);
      if (typeof l.ratePerSec !== 'number' || !Number.isFinite(l.ratePerSec) || l.ratePerSec <= 0) {
        fail('must be a number > 0', { path: `${at}.rateLimit.ratePerSec`, value: l.ratePerSec });
      }
      if (typeof l.burst !== 'number' || !Number.isSafeInteger(l.burst) || l.burst < 1) {
        fail('must be an integer >= 1', { path: `${at}.rateLimit.burst`, value: l.burst });
      }
    }
    if (r.maxConcurrent !== undefined) {
      if (typeof r.maxConcurrent !== 'number' || !Number.isSafeInteger(r.maxConcurrent) || r.maxConcurrent < 1) {
        fail('must be an integer >= 1', { path: `${at}.maxConcurrent`, value: r.maxConcurrent });
      }
    }
  });
}

/** Turns validated raw rules into resolved ones (defaults applied, copies made). */
export function resolvePolicyRules(raw: readonly Plain[]): PolicyRuleConfig[] {
  return raw.map((r, i) => {
    const m = r.match as Plain;
    const t = r.tools as Plain | undefined;
    const l = r.rateLimit as Plain | undefined;
    return {
      name: typeof r.name === 'string' ? r.name : `rules[${i}]`,
      match: { client: typeof m.client === 'string' ? m.client : null, scope: typeof m.scope === 'string' ? m.scope : null },
      servers: Array.isArray(r.servers) ? [...new Set(r.servers as string[])] : [POLICY_ANY],
      tools: t ? { allow: Array.isArray(t.allow) ? [...(t.allow as string[])] : null, deny: Array.isArray(t.deny) ? [...(t.deny as string[])] : [] } : null,
      rateLimit: l ? { ratePerSec: l.ratePerSec as number, burst: l.burst as number } : null,
      maxConcurrent: typeof r.maxConcurrent === 'number' ? r.maxConcurrent : null,
    };
  });
}
