import { BlockList, isIP } from 'node:net';

/**
 * Egress allowlist of the proxy (`upstream.allow`, env `MCP_TUNNEL_ALLOW`): which upstream targets
 * it may connect to. Off (everything allowed) when no rule is configured.
 *
 * Rule syntax (comma-separated in the env var; whitespace around rules ignored):
 *
 * | rule                     | matches |
 * |--------------------------|---------|
 * | `mcp.internal`           | URL host name `mcp.internal` (case-insensitive), any port |
 * | `*.corp.example`         | any host name *below* `corp.example` (`a.corp.example`, `a.b.corp.example`; not `corp.example` itself) |
 * | `mcp.internal:9000`      | that host name, port 9000 only |
 * | `10.0.0.0/8`, `10.1.2.3` | any target whose **resolved** IPv4 address is in the block (a bare address is a /32) |
 * | `10.0.0.0/8:9000`        | the same, port 9000 only |
 * | `fd00::/8`, `::1`        | IPv6 block (a bare address is a /128); no port without brackets |
 * | `[::1]:9000`, `[fd00::/8]:9000` | IPv6 with a port |
 *
 * Only the grammar lives here (the config loader validates `upstream.allow` with it); the decisions
 * on resolved addresses are made by `EgressPolicy` in src/dispatch/egress.ts.
 */

export interface HostRule {
  kind: 'host';
  text: string;
  /** Lower-case exact name, or the suffix (with leading dot) for a wildcard. */
  name: string;
  wildcard: boolean;
  port: number | null;
}

export interface CidrRule {
  kind: 'cidr';
  text: string;
  list: BlockList;
  port: number | null;
}

export type EgressRule = HostRule | CidrRule;

/** A malformed allowlist rule (the config loader turns it into `TUNNEL_CONFIG_INVALID`). */
export class EgressRuleError extends Error {
  constructor(
    readonly rule: string,
    readonly problem: string,
  ) {
    super(`egress rule "${rule}" ${problem}`);
    this.name = 'EgressRuleError';
  }
}

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function parsePort(text: string, rule: string): number {
  if (!/^[0-9]{1,5}$/.test(text)) throw new EgressRuleError(rule, `has an invalid port "${text}"`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw new EgressRuleError(rule, `has a port out of range (${port})`);
  return port;
}

function cidrRule(text: string, block: string, port: number | null, rule: string): CidrRule {
  const slash = block.indexOf('/');
  const address = slash < 0 ? block : block.slice(0, slash);
  const family = isIP(address);
  if (family === 0) throw new EgressRuleError(rule, `is not a valid IP address or CIDR block ("${address}")`);
  const max = family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = block.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) throw new EgressRuleError(rule, `has an invalid prefix length "/${p}" (0-${max})`);
    prefix = Number(p);
  }
  const list = new BlockList();
  list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
  return { kind: 'cidr', text, list, port };
}

function hostRule(text: string, host: string, port: number | null, rule: string): HostRule {
  let name = host.toLowerCase().replace(/\.$/, '');
  const wildcard = name.startsWith('*.');
  if (wildcard) name = name.slice(1);
  const labels = (wildcard ? name.slice(1) : name).split('.');
  if (name.includes('*')) throw new EgressRuleError(rule, 'may use "*" only as the whole first label ("*.example.com")');
  if (labels.some((l) => !HOST_LABEL.test(l)) || name.length > 253) {
    throw new EgressRuleError(rule, 'is not a valid host name, wildcard, IP address or CIDR block');
  }
  return { kind: 'host', text, name, wildcard, port };
}

/**
 * Parses one rule (see the module comment for the syntax).
 * @throws EgressRuleError naming the rule and the problem.
 */
export function parseEgressRule(input: string): EgressRule {
  const rule = input.trim();
  if (rule === '') throw new EgressRuleError(input, 'is empty');
  if (rule.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::([^:]*))?$/.exec(rule);
    if (!m) throw new EgressRuleError(rule, 'is not of the form [IPv6] or [IPv6]:port');
    const port = m[2] === undefined ? null : parsePort(m[2], rule);
    const block = m[1] ?? '';
    if (!isIP(block.split('/')[0] ?? '')) throw new EgressRuleError(rule, 'must hold an IPv6 address or block inside the brackets');
    return cidrRule(rule, block, port, rule);
  }
  const colons = (rule.match(/:/g) ?? []).length;
  if (colons > 1) return cidrRule(rule, rule, null, rule); // bare IPv6, no port
  const [target = '', portText] = rule.split(':');
  const port = portText === undefined ? null : parsePort(portText, rule);
  const head = target.split('/')[0] ?? '';
  if (target.includes('/') || isIP(head) !== 0 || /^[0-9.]+$/.test(head)) return cidrRule(rule, target, port, rule);
  return hostRule(rule, target, port, rule);
}

/**
 * Parses a list of rules; an entry may itself hold several comma-separated rules (the env var form).
 * @throws EgressRuleError for the first malformed rule.
 */
export function parseEgressRules(entries: readonly string[]): EgressRule[] {
  return entries
    .flatMap((e) => e.split(','))
    .filter((r) => r.trim() !== '')
    .map(parseEgressRule);
}
