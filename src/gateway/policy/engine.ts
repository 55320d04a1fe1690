import { DEFAULT_POLICY, POLICY_ANY, type PolicyConfig, type PolicyRuleConfig } from '../../config/policy';
import { GlobList } from './glob';

/**
 * Who a request comes from, as policy sees it. `ClientIdentity` satisfies it; JWT identities add
 * `scopes` (matched by `match.scope`), and later claims.
 */
export interface PolicySubject {
  /** Matched by `match.client`. API-key clients and JWT subjects share this namespace. */
  name: string;
  /** Stable identity key, unique across kinds (`apiKey:alice`, `jwt:<iss>#alice`); defaults to `name`. */
  id?: string;
  scopes?: readonly string[];
}

/** The key that owns sessions and limiter state: `id` when the authenticator gives one, else `name`. */
export function subjectKey(subject: PolicySubject): string {
  return subject.id ?? subject.name;
}

/** The outcome of a tool check, with the rule (and pattern) that decided it. */
export interface ToolVerdict {
  allowed: boolean;
  /** `<rule name>`, `<rule name>: deny "<pattern>"` or `<rule name>: not in allow list`. */
  rule: string;
}

/** A compiled `tools` rule. Deny wins over allow; with an allow list, anything not on it is denied. */
export class ToolRule {
  readonly #allow: GlobList | null;
  readonly #deny: GlobList;

  constructor(
    readonly name: string,
    tools: NonNullable<PolicyRuleConfig['tools']>,
  ) {
    this.#allow = tools.allow === null ? null : new GlobList(tools.allow);
    this.#deny = new GlobList(tools.deny);
  }

  check(tool: string): ToolVerdict {
    const denied = this.#deny.firstMatch(tool);
    if (denied !== null) return { allowed: false, rule: `${this.name}: deny "${denied}"` };
    if (this.#allow !== null && this.#allow.firstMatch(tool) === null) return { allowed: false, rule: `${this.name}: not in allow list` };
    return { allowed: true, rule: this.name };
  }

  /** Predicate for the tools/list filter. */
  readonly allows = (tool: string): boolean => this.check(tool).allowed;
}

/** What applies to one (subject, server): each part from the first matching rule that has it. */
export interface AppliedPolicy {
  tools: ToolRule | null;
  rate: { rule: string; key: string; ratePerSec: number; burst: number } | null;
  concurrency: { rule: string; key: string; max: number } | null;
}

interface CompiledRule {
  config: PolicyRuleConfig;
  tools: ToolRule | null;
  allServers: boolean;
  servers: ReadonlySet<string>;
}

const NOTHING: AppliedPolicy = Object.freeze({ tools: null, rate: null, concurrency: null });

/**
 * The policy of one configuration generation (replaced as a whole on reload). Rules are
 * evaluated in order; for each concern (tools, rate, concurrency) the first rule that matches the
 * subject and the server *and* configures that concern decides it.
 */
export class CompiledPolicy {
  readonly inspectLimitBytes: number;
  readonly #rules: CompiledRule[];

  constructor(config: PolicyConfig | undefined = DEFAULT_POLICY) {
    this.inspectLimitBytes = config.inspectLimitBytes;
    this.#rules = config.rules.map((r) => ({
      config: r,
      tools: r.tools ? new ToolRule(r.name, r.tools) : null,
      allServers: r.servers.includes(POLICY_ANY),
      servers: new Set(r.servers),
    }));
  }

  /** Whether there are any rules at all (the fast path skips everything when not). */
  get empty(): boolean {
    return this.#rules.length === 0;
  }

  resolve(subject: PolicySubject, server: string): AppliedPolicy {
    if (this.#rules.length === 0) return NOTHING;
    let tools: AppliedPolicy['tools'] = null;
    let rate: AppliedPolicy['rate'] = null;
    let concurrency: AppliedPolicy['concurrency'] = null;
    for (const r of this.#rules) {
      if (!(r.allServers || r.servers.has(server)) || !matches(r.config, subject)) continue;
      const key = `${r.config.name}\0${subjectKey(subject)}`;
      if (tools === null && r.tools !== null) tools = r.tools;
      if (rate === null && r.config.rateLimit !== null) rate = { rule: r.config.name, key, ...r.config.rateLimit };
      if (concurrency === null && r.config.maxConcurrent !== null) concurrency = { rule: r.config.name, key, max: r.config.maxConcurrent };
    }
    return tools === null && rate === null && concurrency === null ? NOTHING : { tools, rate, concurrency };
  }
}

function matches(rule: PolicyRuleConfig, subject: PolicySubject): boolean {
  const { client, scope } = rule.match;
  if (client !== null && client !== POLICY_ANY && client !== subject.name) return false;
  if (scope !== null && !(subject.scopes ?? []).includes(scope)) return false;
  return true;
}
