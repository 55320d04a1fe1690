import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayAuditRecord, RequestAudit } from '../../audit';
import { capString, idValue } from '../../audit/mcp-info';
import { F, type Logger } from '../../log';
import { GatewayError } from '../errors';
import { HEADER_MISMATCH_CODE, headerMismatch, isHeaderEra } from './era';
import { subjectKey, type CompiledPolicy, type PolicySubject } from './engine';
import type { ClientLimiter } from './limiter';
import type { SessionOwners } from './sessions';
import type { ToolsListFilterSpec } from './respond';

/** Policy state that outlives a configuration generation (rate buckets, in-flight counts, session owners). */
export interface PolicyRuntime {
  limiter: ClientLimiter;
  sessions: SessionOwners;
}

/** The policy decision written to the gateway audit record. */
export type PolicyDecision = NonNullable<GatewayAuditRecord['policy']>;

/** JSON-RPC error code of a call denied by a tool rule (implementation-defined range). */
export const TOOL_DENIED_CODE = -32000;
/** JSON-RPC parse error, for a body the policy must read but cannot parse. */
const PARSE_ERROR_CODE = -32700;

/** Rule names recorded for the checks that are not configured rules. */
export const SESSION_BINDING_RULE = 'session-binding';
export const HEADER_CHECK_RULE = 'header-check';

export interface AdmitContext {
  req: IncomingMessage;
  res: ServerResponse;
  rid: string;
  server: string;
  subject: PolicySubject;
  /** `Mcp-Session-Id` (or legacy `sessionId`), if any. */
  sessionKey: string | null;
  hasBody: boolean;
  policy: CompiledPolicy;
  runtime: PolicyRuntime;
  maxRequestBodyBytes: number;
  audit: RequestAudit<GatewayAuditRecord>;
  log: () => Logger;
  /** Answers with a gateway error, audits and finishes the record (forward.ts `reject`). */
  reject: (err: GatewayError) => void;
}

/** What the forwarder does with an admitted request. */
export interface Admission {
  /** The request body, read and checked; forward these bytes instead of piping the request. Null: stream it. */
  body: Buffer | null;
  /** Filter the `tools/list` result(s) of the response. */
  toolsFilter: ToolsListFilterSpec | null;
}

const STREAM_THROUGH: Admission = Object.freeze({ body: null, toolsFilter: null });

type JsonRpcId = string | number;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Applies the request policy before anything is sent into the tunnel: session binding, rate and
 * concurrency limits, and — only when a tool rule applies to this client and server — the tool
 * check, which reads the body (bounded), parses it once, and checks the protocol-era headers.
 *
 * Resolves the admission, or null when the request was answered here (denied, limited, client
 * gone); then the audit record is finished and nothing reached the tunnel. A concurrency slot is
 * released when the response closes.
 */
export async function admitRequest(ctx: AdmitContext): Promise<Admission | null> {
  const { req, res, server, subject, audit } = ctx;
  const decide = (decision: PolicyDecision): void => void audit.annotate({ policy: decision });

  if (ctx.sessionKey !== null) {
    const owner = ctx.runtime.sessions.ownerOf(server, ctx.sessionKey);
    if (owner !== null && owner !== subjectKey(subject)) {
      decide({ decision: 'deny', rule: SESSION_BINDING_RULE });
      ctx.log().warn({ [F.client]: subject.name, [F.code]: 'TUNNEL_SESSION_NOT_FOUND' }, 'session presented by a client that did not create it');
      ctx.reject(new GatewayError('TUNNEL_SESSION_NOT_FOUND', 404, `session not found on server "${server}"`));
      return null;
    }
  }

  const applied = ctx.policy.resolve(subject, server);
  if (applied.rate !== null) {
    const waitMs = ctx.runtime.limiter.takeToken(applied.rate.key, applied.rate.ratePerSec, applied.rate.burst);
    if (waitMs > 0) {
      decide({ decision: 'deny', rule: applied.rate.rule });
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      ctx.reject(new GatewayError('TUNNEL_RATE_LIMITED', 429, `client "${subject.name}" exceeded its rate limit (rule "${applied.rate.rule}": ${applied.rate.ratePerSec}/s, burst ${applied.rate.burst})`, { retryAfter }));
      return null;
    }
  }
  // Only POSTs count: a standalone GET stream stays open for hours and would hold a slot forever.
  if (applied.concurrency !== null && req.method === 'POST') {
    const slot = ctx.runtime.limiter.acquire(applied.concurrency.key, applied.concurrency.max);
    if (slot === null) {
      decide({ decision: 'deny', rule: applied.concurrency.rule });
      ctx.reject(new GatewayError('TUNNEL_CONCURRENCY_LIMITED', 429, `client "${subject.name}" has ${applied.concurrency.max} request(s) in flight, the most rule "${applied.concurrency.rule}" allows`, { retryAfter: 1 }));
      return null;
    }
    res.once('close', () => slot.release());
  }

  const tools = applied.tools;
  if (tools !== null && req.method === 'GET') {
    // A GET stream may carry tools/list answers too (legacy HTTP+SSE; a resumed stream): filter any.
    decide({ decision: 'allow', rule: tools.name });
    return { body: null, toolsFilter: { ids: null, allowed: tools.allows } };
  }
  if (tools === null || req.method !== 'POST' || !ctx.hasBody) {
    const rule = tools?.name ?? applied.concurrency?.rule ?? applied.rate?.rule ?? null;
    if (rule !== null) decide({ decision: 'allow', rule });
    return STREAM_THROUGH;
  }

  const policyBound = ctx.policy.inspectLimitBytes;
  const limit = Math.min(policyBound, ctx.maxRequestBodyBytes);
  const read = await readBounded(req, limit);
  if (read === 'aborted') {
    audit.abort('TUNNEL_CLIENT_GONE');
    audit.finish();
    return null;
  }
  if (read === 'too-large') {
    decide({ decision: 'deny', rule: tools.name });
    const err =
      limit < policyBound
        ? new GatewayError('TUNNEL_BODY_TOO_LARGE', 413, `request body exceeds the limit of ${limit} bytes`)
        : new GatewayError('TUNNEL_POLICY_BODY_TOO_LARGE', 413, `request body exceeds ${limit} bytes, the most the gateway reads to check tool rules (policy.inspectLimitBytes)`);
    ctx.reject(err);
    return null;
  }
  audit.addBytesIn(read.length);

  let text = read.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    decide({ decision: 'deny', rule: tools.name });
    answerJsonRpc(ctx, 400, 'TUNNEL_POLICY_INVALID_BODY', [{ id: null, code: PARSE_ERROR_CODE, message: 'Parse error: the request body is not JSON (required where a tool rule applies)' }]);
    return null;
  }
  setMcpFields(audit, value);

  if (isHeaderEra(header(req, 'mcp-protocol-version'))) {
    const problem = headerMismatch(
      { protocolVersion: header(req, 'mcp-protocol-version'), method: header(req, 'mcp-method'), name: header(req, 'mcp-name') },
      value,
    );
    if (problem !== null) {
      decide({ decision: 'deny', rule: HEADER_CHECK_RULE });
      ctx.log().info({ [F.client]: subject.name, [F.reason]: problem }, 'request rejected: header mismatch');
      answerJsonRpc(ctx, 400, 'TUNNEL_HEADER_MISMATCH', [{ id: isObject(value) ? rpcId(value.id) : null, code: HEADER_MISMATCH_CODE, message: `Header mismatch: ${problem}` }]);
      return null;
    }
  }

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
    if (req.headers['mcp-session-id'] === undefined && ctx.sessionKey !== null) {
      ctx.reject(new GatewayError('TUNNEL_TOOL_DENIED', 403, message));
      return null;
    }
    const ids = members.filter(isObject).filter((m) => Object.hasOwn(m, 'method') && Object.hasOwn(m, 'id')).map((m) => rpcId(m.id));
    answerJsonRpc(ctx, 200, 'TUNNEL_TOOL_DENIED', (ids.length > 0 ? ids : [null]).map((id) => ({ id, code: TOOL_DENIED_CODE, message, rule: denied.rule })), Array.isArray(value));
    return null;
  }
  if (listIds.size > 0) {
    decide({ decision: 'filtered', rule: tools.name });
    return { body: read, toolsFilter: { ids: listIds, allowed: tools.allows } };
  }
  decide({ decision: 'allow', rule: tools.name });
  return { body: read, toolsFilter: null };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function rpcId(v: unknown): JsonRpcId | null {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? v : null;
}

function setMcpFields(audit: RequestAudit<GatewayAuditRecord>, value: unknown): void {
  if (Array.isArray(value)) {
    audit.setMcp({ mcpMethod: 'batch', jsonrpcId: null, tool: null });
    return;
  }
  if (!isObject(value)) return;
  const method = typeof value.method === 'string' ? capString(value.method) : null;
  const params = isObject(value.params) ? value.params : {};
  const tool = method === 'tools/call' && typeof params.name === 'string' ? capString(params.name) : null;
  audit.setMcp({ mcpMethod: method, jsonrpcId: idValue(value.id), tool });
}

/**
 * Answers the request here with JSON-RPC error response(s) (`data.code` is the stable gateway
 * code, as in every gateway error), audits and finishes the record. Nothing reaches the tunnel.
 */
function answerJsonRpc(
  ctx: AdmitContext,
  status: number,
  code: string,
  errors: Array<{ id: JsonRpcId | null; code: number; message: string; rule?: string }>,
  batch = false,
): void {
  const { res, audit } = ctx;
  const responses = errors.map((e) => ({
    jsonrpc: '2.0',
    id: e.id,
    error: { code: e.code, message: e.message, data: { code, server: ctx.server, requestId: ctx.rid, ...(e.rule !== undefined ? { rule: e.rule } : {}) } },
  }));
  const body = JSON.stringify(batch ? responses : responses[0]);
  audit.setStatus(status).fail(code);
  if (!res.headersSent && !res.destroyed) {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-request-id': ctx.rid });
    res.end(body);
  }
  audit.finish();
}

/** Reads the whole body if it fits in `limit` bytes; stops reading (and leaves the rest) when it does not. */
function readBounded(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const finish = (r: Buffer | 'too-large' | 'aborted'): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes > limit) {
        req.pause();
        return finish('too-large');
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish(Buffer.concat(chunks, bytes));
    const onAbort = (): void => finish('aborted');
    const onClose = (): void => {
      if (!req.complete) finish('aborted');
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onAbort);
    req.once('close', onClose);
  });
}
