/**
 * The gateway's one reading of a POST body (docs/policy.md, "How the gateway reads a request"):
 * read whole up to the inspection bound before anything enters the tunnel, decode once (UTF-8,
 * fatal), parse once, refuse duplicate member names; the audit's MCP fields come from that parse
 * and the same buffer is forwarded. A larger body is inspected on its prefix only and streams on.
 */
import { DEFAULT_INSPECT_LIMIT_BYTES, McpRequestInspector, describeMessage } from '../../audit';
import { readBodyUpTo, readJsonBody, type RequestBody } from '../body';
import { F } from '../../log';
import { GatewayError } from '../errors';
import { PARSE_ERROR_CODE, answerJsonRpc } from './answer';
import type { AdmitContext } from './admit';

/** A body read for forwarding; `value` is its one parse (absent when not JSON or only a prefix was read). */
export interface ReadRequest {
  body: Exclude<RequestBody, { kind: 'none' }>;
  value?: unknown;
}

/**
 * Reads and checks the body of `ctx.req` (which has one). `toolRule` names the tool rule that
 * applies, if any: then the bound is `policy.inspectLimitBytes` and the body must be JSON, else the
 * bound is {@link DEFAULT_INSPECT_LIMIT_BYTES} and anything that is not JSON is forwarded as it is.
 * Both bounds are capped by `limits.maxRequestBodyBytes`; the bytes read count against `ctx.limit`.
 *
 * Resolves null when the request was answered here (refused, too large, client gone): the audit
 * record is then finished.
 */
export async function readRequest(ctx: AdmitContext, toolRule: string | null): Promise<ReadRequest | null> {
  const { audit } = ctx;
  const bound = Math.min(toolRule !== null ? ctx.policy.inspectLimitBytes : DEFAULT_INSPECT_LIMIT_BYTES, ctx.limit.maxBytes);
  const deny = (): void => {
    if (toolRule !== null) audit.annotate({ policy: { decision: 'deny', rule: toolRule } });
  };
  const read = await readBodyUpTo(ctx.req, bound);
  if (read === 'aborted') {
    audit.abort('TUNNEL_CLIENT_GONE');
    audit.finish();
    return null;
  }
  if (read.kind === 'none') return null; // not produced by readBodyUpTo
  if (!ctx.limit.take(read.bytes.length)) {
    deny();
    ctx.reject(ctx.limit.tooLarge());
    return null;
  }
  if (read.kind === 'prefix') {
    if (toolRule !== null) {
      deny();
      ctx.reject(new GatewayError('TUNNEL_POLICY_BODY_TOO_LARGE', `request body exceeds ${bound} bytes, the most the gateway reads to check tool rules (policy.inspectLimitBytes)`));
      return null;
    }
    // Audit only: no decision is taken on a partial view, and the record says it was partial.
    const inspector = new McpRequestInspector(bound);
    inspector.push(read.bytes);
    audit.setMcp(inspector.finish()).annotate({ inspection: 'partial' });
    return { body: read };
  }
  audit.annotate({ inspection: 'complete' });
  const json = readJsonBody(read.bytes);
  if (json.ok) {
    audit.setMcp(describeMessage(json.value));
    return { body: read, value: json.value };
  }
  if (json.reason === 'utf8') {
    deny();
    ctx.log().info({ [F.code]: 'TUNNEL_INVALID_UTF8', [F.reason]: 'invalid UTF-8' }, 'request rejected');
    answerJsonRpc(ctx, 400, 'TUNNEL_INVALID_UTF8', [{ id: null, code: PARSE_ERROR_CODE, message: 'Parse error: the request body is not valid UTF-8' }]);
    return null;
  }
  if (json.reason === 'duplicate-key') {
    deny();
    const key = json.key.length > 64 ? `${json.key.slice(0, 64)}…` : json.key;
    ctx.log().info({ [F.code]: 'TUNNEL_DUPLICATE_JSON_KEY', [F.reason]: 'duplicate JSON member name' }, 'request rejected');
    answerJsonRpc(ctx, 400, 'TUNNEL_DUPLICATE_JSON_KEY', [{ id: null, code: PARSE_ERROR_CODE, message: `Parse error: member name ${JSON.stringify(key)} appears twice in one object` }]);
    return null;
  }
  if (toolRule !== null) {
    deny();
    answerJsonRpc(ctx, 400, 'TUNNEL_POLICY_INVALID_BODY', [{ id: null, code: PARSE_ERROR_CODE, message: 'Parse error: the request body is not JSON (required where a tool rule applies)' }]);
    return null;
  }
  // Not JSON and no rule to enforce: the upstream answers it (400); the record shows no method.
  audit.setMcp({ mcpMethod: null, jsonrpcId: null, tool: null });
  return { body: read };
}
