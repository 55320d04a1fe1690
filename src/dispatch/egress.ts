import { AsyncLocalStorage } from 'node:async_hooks';
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { isIP, isIPv4 } from 'node:net';
import { parseEgressRules, type EgressRule } from '../config/egress-rules';
import { TunnelError } from '../errors';

/**
 * Egress allowlist of the proxy (`upstream.allow`, env `MCP_TUNNEL_ALLOW`): which upstream targets
 * it may connect to. Off (everything allowed) when no rule is configured.
 *
 * The rule grammar (which rules exist, how they are written) is src/config/egress-rules.ts, where the
 * config loader validates `upstream.allow` with it; this module decides on resolved addresses.
 *
 * Semantics: the decision is made per TCP connection, on the address actually connected to. The
 * host name of the URL is resolved exactly once, inside the connect (no separate "check" lookup that
 * a rebinding DNS server could answer differently), and each resolved address is allowed when some
 * rule matches it:
 * - a host-name rule matches when the URL's host name matches it (and the port, if the rule has one):
 *   it trusts that name's DNS, so every address the name resolves to is allowed;
 * - a CIDR rule matches when the resolved address lies in the block (and the port): any name, or an
 *   IP literal URL, resolving into the block is allowed.
 * Addresses no rule allows are dropped from the lookup answer; when none is left, the connection is
 * refused with {@link EgressDeniedError} and nothing is sent. IPv4-mapped IPv6 addresses
 * (`::ffff:10.0.0.1`) are checked as the IPv4 address they carry.
 */

/** The outcome of a check, with a reason fit for logs and the audit record's `egress` field. */
export interface EgressDecision {
  allowed: boolean;
  /** The rule that allowed the target; null when denied. */
  rule: string | null;
  /** `allowed: rule "10.0.0.0/8" matches 10.1.2.3:9000` / `denied: no rule matches 10.1.2.3:9000`. */
  decision: string;
}

/** Stable code of {@link EgressDeniedError} (the dispatcher reports it as `TUNNEL_UPSTREAM_FORBIDDEN`). */
export const EGRESS_DENIED_CODE = 'TUNNEL_UPSTREAM_FORBIDDEN';

/** The egress policy refused every address of a target; raised from the connector before connecting. */
export class EgressDeniedError extends TunnelError {
  /** The decision text, e.g. `denied: no rule matches db.internal (10.1.2.3):9000`. */
  readonly egress: string;
  constructor(decision: string) {
    super(EGRESS_DENIED_CODE, `egress policy refused the target: ${decision}`, { retryable: false });
    this.name = 'EgressDeniedError';
    this.egress = decision;
  }
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses unchanged. */
function unmapIPv4(address: string): string {
  const m = /^::ffff:([0-9.]+)$/i.exec(address);
  return m?.[1] !== undefined && isIPv4(m[1]) ? m[1] : address;
}

function describeTarget(host: string, address: string, port: number): string {
  const addr = address.includes(':') ? `[${address}]` : address;
  return host === address || host === '' ? `${addr}:${port}` : `${host} (${address}):${port}`;
}

/** An immutable allowlist. */
export class EgressPolicy {
  private constructor(readonly rules: readonly EgressRule[]) {}

  /** @throws EgressRuleError for a malformed rule. */
  static fromRules(entries: readonly string[]): EgressPolicy {
    return new EgressPolicy(parseEgressRules(entries));
  }

  /** False when no rule is configured: every target is allowed and no check runs. */
  get enabled(): boolean {
    return this.rules.length > 0;
  }

  /**
   * Decides on one address a connection to `host` (the URL's host name, or the IP literal) would
   * use, on `port`.
   */
  decide(host: string, address: string, port: number): EgressDecision {
    const name = host.toLowerCase().replace(/\.$/, '');
    const ip = unmapIPv4(address);
    const family = isIP(ip);
    const target = describeTarget(name, ip, port);
    if (!this.enabled) return { allowed: true, rule: null, decision: `allowed: no egress policy (${target})` };
    for (const r of this.rules) {
      if (r.port !== null && r.port !== port) continue;
      const hit =
        r.kind === 'host'
          ? isIP(name) === 0 && (r.wildcard ? name.endsWith(r.name) && name.length > r.name.length : name === r.name)
          : family !== 0 && r.list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
      if (hit) return { allowed: true, rule: r.text, decision: `allowed: rule "${r.text}" matches ${target}` };
    }
    return { allowed: false, rule: null, decision: `denied: no rule matches ${target}` };
  }
}

/** `dns.lookup` with `{ all: true }`: what the connector resolves host names with (injectable for tests). */
export type EgressResolver = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

export const defaultResolver: EgressResolver = (hostname, options, callback) => dnsLookup(hostname, options, callback);

/** What the connector knows about the connection being made while `net`/`tls` resolves its host. */
interface ConnectContext {
  host: string;
  port: number;
  /** Receives every decision (for debug logs and tests). */
  onDecision?: ((d: EgressDecision) => void) | undefined;
}

type NetLookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;
/** The `lookup` option of `net.connect` / `tls.connect`. */
export type NetLookup = (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: NetLookupCallback) => void;

/**
 * Builds the `lookup` function handed to `net.connect`/`tls.connect` and the wrapper that supplies
 * its per-connection context (the URL's port is not passed to `lookup`, so it travels in an
 * AsyncLocalStorage around the connect call; Node runs `lookup` within that call's async context).
 */
export function egressLookup(policy: EgressPolicy, resolver: EgressResolver = defaultResolver): {
  lookup: NetLookup;
  run<T>(ctx: ConnectContext, fn: () => T): T;
} {
  const storage = new AsyncLocalStorage<ConnectContext>();
  const lookup: NetLookup = (hostname, options, callback) => {
    const ctx = storage.getStore();
    resolver(hostname, { family: options.family, hints: options.hints, all: true }, (err, addresses) => {
      if (err) return callback(err, options.all === true ? [] : '', 0);
      // Without a context (not called through `run`) fail closed: nothing is allowed.
      const decisions = addresses.map((a) => ({ a, d: ctx ? policy.decide(ctx.host, a.address, ctx.port) : policy.decide(hostname, a.address, 0) }));
      for (const { d } of decisions) ctx?.onDecision?.(d);
      const allowed = ctx ? decisions.filter((x) => x.d.allowed).map((x) => x.a) : [];
      if (allowed.length === 0) {
        const denied = decisions[0]?.d.decision ?? `denied: ${hostname} resolved to no address`;
        const all = decisions.length > 1 ? `${denied}${decisions.slice(1).map((x) => `, ${x.a.address}`).join('')}` : denied;
        return callback(new EgressDeniedError(all), options.all === true ? [] : '', 0);
      }
      if (options.all === true) return callback(null, allowed);
      const first = allowed[0]!;
      return callback(null, first.address, first.family);
    });
  };
  return { lookup, run: (ctx, fn) => storage.run(ctx, fn) };
}
