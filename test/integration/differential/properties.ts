/**
 * The differential property: for one observed variant, what the upstream executed must equal
 * what the policy allowed and what the gateway's audit recorded. Written against behaviour (what
 * ran upstream, the audit record's documented fields), not against any status code.
 */
import type { ExecutedMessage } from '../../helpers/recording-upstream';
import { GRANTED, type Observation } from './harness';
import { describe as describeVariant, type Who } from './variants';

/** The policy of the harness as a reference model (harness.ts POLICY_RULE). */
export function toolAllowed(who: Who, server: string, tool: string | null): boolean {
  if (!GRANTED[who].includes(server)) return false;
  if (who === 'alice' && (server === 'notes' || server === 'legacy')) return tool === 'echo';
  return true;
}

function show(e: ExecutedMessage): string {
  return `${e.server}/${e.transport} ${e.httpMethod} ${e.path}${e.query} session=${e.sessionId ?? '-'} ${e.method ?? '?'}${e.tool !== null ? `:${e.tool}` : ''}${e.batch ? ' (batch)' : ''}`;
}

/**
 * The violations in one observation (empty = the property holds):
 * 1. every tool the upstream executed was allowed by the policy for that identity and server, and
 *    nothing ran on a server the identity was not granted (the `admin` server on the same origin);
 * 2. a request the gateway denied or never sent into the tunnel executed nothing;
 * 3. every execution happened on the server the audit record names, and the record names the
 *    method, tool and id of what ran — unless it says its inspection was `partial`;
 * 4. no identity executed in another identity's session.
 */
export function violations(o: Observation, owners: ReadonlyMap<string, Who>): string[] {
  const out: string[] = [];
  const who = o.variant.who;
  const rec = o.record;
  for (const e of o.executed) {
    if (!GRANTED[who].includes(e.server)) out.push(`reached server "${e.server}", not granted to ${who}: ${show(e)}`);
    else if (e.method === 'tools/call' && !toolAllowed(who, e.server, e.tool)) out.push(`executed a tool the policy denies to ${who}: ${show(e)}`);
    const owner = e.sessionId !== null ? owners.get(e.sessionId) : undefined;
    if (owner !== undefined && owner !== who) out.push(`${who} executed in ${owner}'s session: ${show(e)}`);
  }
  if (o.executed.length === 0) return out;
  if (rec === null) return [...out, `executed ${o.executed.length} message(s) but the gateway wrote no audit record`];

  const policy = rec.policy as { decision?: string } | null | undefined;
  if (policy?.decision === 'deny' || rec.conn === null) {
    out.push(`the gateway recorded the request as ${policy?.decision === 'deny' ? 'denied' : 'not forwarded'}, yet it executed: ${o.executed.map(show).join('; ')}`);
  }
  for (const e of o.executed) {
    if (rec.server !== e.server) out.push(`audit names server "${String(rec.server)}" but it executed on "${e.server}": ${show(e)}`);
  }
  if (rec.inspection === 'partial') return out;
  const batch = o.executed.some((e) => e.batch);
  if (batch) {
    if (rec.mcpMethod !== 'batch') out.push(`a batch executed but the audit says method ${JSON.stringify(rec.mcpMethod)} (inspection not partial)`);
    return out;
  }
  if (o.executed.length > 1) out.push(`one non-batch request executed ${o.executed.length} messages: ${o.executed.map(show).join('; ')}`);
  const e = o.executed[0]!;
  if (rec.mcpMethod !== e.method || rec.tool !== e.tool || rec.jsonrpcId !== e.id) {
    const said = `method ${JSON.stringify(rec.mcpMethod)}, tool ${JSON.stringify(rec.tool)}, id ${JSON.stringify(rec.jsonrpcId)}`;
    out.push(`audit says ${said} (inspection ${JSON.stringify(rec.inspection ?? 'not stated')}, policy ${JSON.stringify(policy)}) but the upstream executed ${show(e)} id ${JSON.stringify(e.id)}`);
  }
  return out;
}

/** Throws with a readable report when `o` has violations (fast-check then shrinks the variant). */
export function assertConsistent(o: Observation, owners: ReadonlyMap<string, Who>): void {
  const found = violations(o, owners);
  if (found.length === 0) return;
  const lines = [
    `variant: ${describeVariant(o.variant)}`,
    `sent: ${o.request.method} ${o.request.target} ${JSON.stringify(o.request.headers.filter(([k]) => k !== 'Authorization'))} body ${o.request.body.length} B: ${JSON.stringify(o.request.body.subarray(0, 240).toString('latin1'))}`,
    `gateway answered ${o.status}; upstream saw: ${o.arrived.join(', ') || 'nothing'}`,
    ...found.map((f) => `  - ${f}`),
  ];
  throw new Error(lines.join('\n'));
}
