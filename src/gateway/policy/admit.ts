import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayAuditRecord, RequestAudit } from '../../audit';
import { capString } from '../../audit/mcp-info';
import { NO_BODY, type BodyLimit, type RequestBody } from '../body';
import { F, type Logger } from '../../log';
import { GatewayError } from '../errors';
import { HEADER_MISMATCH_CODE, headerMismatch, isHeaderEra } from './era';
import type { AppliedPolicy, CompiledPolicy, PolicySubject, ToolRule } from './engine';
import type { ClientLimiter } from './limiter';
import type { ToolsListFilterSpec } from './respond';
import { answerJsonRpc, type JsonRpcId } from './answer';
import { readRequest } from './read-request';

/**
 * Policy state that outlives a configuration generation (rate buckets, in-flight counts). Session
 * owners live in the gateway's `SessionBinding` (../session-binding.ts), checked by ../target.ts.
 */
export interface PolicyRuntime {
  limiter: ClientLimiter;
}

/** The policy decision written to the gateway audit record. */
export type PolicyDecision = NonNullable<GatewayAuditRecord['policy']>;

/** JSON-RPC error code of a call denied by a tool rule (implementation-defined range). */
export const TOOL_DENIED_CODE = -32000;

/** Rule names recorded for the checks that are not configured rules. */
export const SESSION_BINDING_RULE = 'session-binding';
export const HEADER_CHECK_RULE = 'header-check';

export interface AdmitContext {
  req: IncomingMessage;
  res: ServerResponse;
  rid: string;
  server: string;
  subject: PolicySubject;
  /** A POST to an announced legacy HTTP+SSE message endpoint (its answers travel on the GET stream). */
  legacy: boolean;
  hasBody: boolean;
  policy: CompiledPolicy;
  runtime: PolicyRuntime;
  /** The request's body limit (`limits.maxRequestBodyBytes`), counted once across read and pump. */
  limit: BodyLimit;
  audit: RequestAudit<GatewayAuditRecord>;
  log: () => Logger;
  /** Answers with a gateway error, audits and finishes the record (forward.ts `reject`). */
  reject: (err: GatewayError) => void;
}

/** What the forwarder does with an admitted request. */
export interface Admission {
  /** The request body as read (docs/policy.md, "How the gateway reads a request"): forward exactly this. */
  body: RequestBody;
  /** Filter the `tools/list` result(s) of the response. */
  toolsFilter: ToolsListFilterSpec | null;
  /** The body's one parse (`readRequest`), when it was read whole as JSON: later steps read this, never the bytes again. */
  value?: unknown;
}

const NO_BODY_ADMISSION: Admission = Object.freeze({ body: NO_BODY, toolsFilter: null });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}


/**
 * Applies the request policy before anything is sent into the tunnel (session binding was checked
 * when the target was resolved, ../target.ts): rate and concurrency limits, and — only when a tool
 * rule applies to this client and server — the tool check, which reads the body (bounded), parses
 * it once, and checks the protocol-era headers.
 *
 * Resolves the admission, or null when the request was answered here (denied, limited, client
 * gone); then the audit record is finished and nothing reached the tunnel. A concurrency slot is
 * released when the response closes.
 */
export async function admitRequest(ctx: AdmitContext): Promise<Admission | null> {
  const { req, audit } = ctx;
  const decide = (decision: PolicyDecision): void => void audit.annotate({ policy: decision });
  const applied = ctx.policy.resolve(ctx.subject, ctx.server);
  if (!withinLimits(ctx, applied, decide)) return null;

  const tools = applied.tools;
  if (tools !== null && req.method === 'GET') {
    // A GET stream may carry tools/list answers too (legacy HTTP+SSE; a resumed stream): filter any.
    decide({ decision: 'allow', rule: tools.name });
    return { body: NO_BODY, toolsFilter: { ids: null, allowed: tools.allows } };
  }
  const passRule = tools?.name ?? applied.concurrency?.rule ?? applied.rate?.rule ?? null;
  if (!ctx.hasBody) {
    if (passRule !== null) decide({ decision: 'allow', rule: passRule });
    return NO_BODY_ADMISSION;
  }
  // Only POSTs carry a body here (checkBodyHeaders refused the rest).
  const read = await readRequest(ctx, tools?.name ?? null);
  if (read === null) return null;
  if (tools === null || !('value' in read)) {
    if (passRule !== null) decide({ decision: 'allow', rule: passRule });
    return 'value' in read ? { body: read.body, toolsFilter: null, value: read.value } : { body: read.body, toolsFilter: null };
  }
  if (!headersAgree(ctx, read.value, decide)) return null;
  return checkTools(ctx, tools, { body: read.body, value: read.value }, decide);
}

type Decide = (decision: PolicyDecision) => void;

/** Rate and concurrency limits; false when the request was answered (429). */
function withinLimits(ctx: AdmitContext, applied: AppliedPolicy, decide: Decide): boolean {
  const { req, res, subject } = ctx;
  if (applied.rate !== null) {
    const waitMs = ctx.runtime.limiter.takeToken(applied.rate.key, applied.rate.ratePerSec, applied.rate.burst);
    if (waitMs > 0) {
      decide({ decision: 'deny', rule: applied.rate.rule });
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      ctx.reject(new GatewayError('TUNNEL_RATE_LIMITED', `client "${subject.name}" exceeded its rate limit (rule "${applied.rate.rule}": ${applied.rate.ratePerSec}/s, burst ${applied.rate.burst})`, { retryAfter }));
      return false;
    }
  }
  // Only POSTs count: a standalone GET stream stays open for hours and would hold a slot forever.
  if (applied.concurrency !== null && req.method === 'POST') {
    const slot = ctx.runtime.limiter.acquire(applied.concurrency.key, applied.concurrency.max);
    if (slot === null) {
      decide({ decision: 'deny', rule: applied.concurrency.rule });
      ctx.reject(new GatewayError('TUNNEL_CONCURRENCY_LIMITED', `client "${subject.name}" has ${applied.concurrency.max} request(s) in flight, the most rule "${applied.concurrency.rule}" allows`, { retryAfter: 1 }));
      return false;
    }
    res.once('close', () => slot.release());
  }
  return true;
}

/** The 2026-era header check (Mcp-Method / Mcp-Name / MCP-Protocol-Version against the body); false when answered (400). */
function headersAgree(ctx: AdmitContext, value: unknown, decide: Decide): boolean {
  const { req, subject } = ctx;
  if (isHeaderEra(header(req, 'mcp-protocol-version'))) {
    const problem = headerMismatch(
      { protocolVersion: header(req, 'mcp-protocol-version'), method: header(req, 'mcp-method'), name: header(req, 'mcp-name') },
      value,
    );
    if (problem !== null) {
      decide({ decision: 'deny', rule: HEADER_CHECK_RULE });
      ctx.log().info({ [F.client]: subject.name, [F.reason]: problem }, 'request rejected: header mismatch');
      answerJsonRpc(ctx, 400, 'TUNNEL_HEADER_MISMATCH', [{ id: isObject(value) ? rpcId(value.id) : null, code: HEADER_MISMATCH_CODE, message: `Header mismatch: ${problem}` }]);
      return false;
    }
  }
  return true;
}

/** The tool rule on a parsed body: deny a call it refuses, or plan the `tools/list` filter. */
function checkTools(ctx: AdmitContext, tools: ToolRule, read: { body: Exclude<RequestBody, { kind: 'none' }>; value: unknown }, decide: Decide): Admission | null {
  const { subject, server } = ctx;
  const value = read.value;
  // Batches (2025-03-26) are denied as a whole when any call in them is denied.
  const members = Array.isArray(value) ? value : [value];
  const listIds = new Set<JsonRpcId>();
  let denied: { rule: string; tool: string } | null = null;
  for (const m of members) {
    if (!isObject(m)) continue;
    if (m.method === 'tools/call') {
      const params = isObject(m.params) ? m.params : {};
      const name = params.name;
      const verdict = typeof name === 'string' ? tools.check(name) : { allowed: false, rule: `${tools.name}: no tool name` };
      if (!verdict.allowed) {
        denied = { rule: verdict.rule, tool: typeof name === 'string' ? capString(name) : String(name) };
        break;
      }
    } else if (m.method === 'tools/list') {
      const id = rpcId(m.id);
      if (id !== null) listIds.add(id);
    }
  }
  if (denied !== null) {
    decide({ decision: 'deny', rule: denied.rule });
    ctx.log().info({ [F.client]: subject.name, tool: denied.tool, rule: denied.rule }, 'tool call denied by policy');
    const message = `tool "${denied.tool}" is not allowed for client "${subject.name}" on server "${server}" (policy rule ${denied.rule})`;
    // Legacy HTTP+SSE (2024-11-05): answers travel on the GET stream and the POST expects 202,
    // so a JSON-RPC answer here would never be read; an HTTP error makes the client's send fail.
    if (ctx.legacy) {
      ctx.reject(new GatewayError('TUNNEL_TOOL_DENIED', message));
      return null;
    }
    const ids = members.filter(isObject).filter((m) => Object.hasOwn(m, 'method') && Object.hasOwn(m, 'id')).map((m) => rpcId(m.id));
    answerJsonRpc(ctx, 200, 'TUNNEL_TOOL_DENIED', (ids.length > 0 ? ids : [null]).map((id) => ({ id, code: TOOL_DENIED_CODE, message, rule: denied.rule })), Array.isArray(value));
    return null;
  }
  if (listIds.size > 0) {
    decide({ decision: 'filtered', rule: tools.name });
    return { body: read.body, toolsFilter: { ids: listIds, allowed: tools.allows }, value };
  }
  decide({ decision: 'allow', rule: tools.name });
  return { body: read.body, toolsFilter: null, value };
}


function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function rpcId(v: unknown): JsonRpcId | null {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? v : null;
}
