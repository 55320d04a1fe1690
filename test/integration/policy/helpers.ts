/** Set-up for the policy suite: a tunnelled upstream whose gateway has policy rules and two clients. */
import { randomBytes } from 'node:crypto';
import type { GatewayConfig, PolicyRuleConfig } from '../../../src/config/types';
import type { StreamableUpstreamOptions } from '../../fixtures/mcp-upstream';
import type { Resources } from '../../helpers';
import { startTunnelled, type Tunnelled } from '../passthrough/helpers';

/** A rule with defaults: every server, no tools/rate/concurrency part. */
export function rule(p: Partial<PolicyRuleConfig> & { name: string }): PolicyRuleConfig {
  return {
    match: { client: 'alice', scope: null },
    servers: ['*'],
    tools: null,
    rateLimit: null,
    maxConcurrent: null,
    ...p,
  };
}

export interface PolicyTunnel extends Tunnelled {
  /** Bob's API key (a second client, same servers as alice). */
  bobKey: string;
  bobAuth: Record<string, string>;
  /** Reloads the gateway with `rules` (everything else unchanged). */
  reloadRules(rules: PolicyRuleConfig[]): void;
}

export async function startPolicyTunnel(
  res: Resources,
  rules: PolicyRuleConfig[],
  opts: { upstream?: StreamableUpstreamOptions; gateway?: (c: GatewayConfig) => void } = {},
): Promise<PolicyTunnel> {
  const bobKey = randomBytes(24).toString('base64url');
  const t = await startTunnelled(res, {
    ...(opts.upstream ? { upstream: opts.upstream } : {}),
    harness: {
      gateway: (c) => {
        c.clients.push({ ...c.clients[0]!, name: 'bob', apiKey: bobKey });
        c.policy = { rules, inspectLimitBytes: 64 * 1024 };
        opts.gateway?.(c);
      },
    },
  });
  return {
    ...t,
    bobKey,
    bobAuth: { Authorization: `Bearer ${bobKey}` },
    reloadRules: (next) => {
      const c = structuredClone(t.h.gatewayConfig);
      c.policy = { rules: next, inspectLimitBytes: 64 * 1024 };
      t.h.gateway.reload(c);
    },
  };
}

/** Gateway audit records (parsed lines with `side: 'gateway'`). */
export function gatewayRecords(t: Tunnelled): Array<Record<string, unknown>> {
  return t.h.gatewayAudit.lines.filter((l) => l.side === 'gateway');
}
