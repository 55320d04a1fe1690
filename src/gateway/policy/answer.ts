import type { ServerResponse } from 'node:http';
import type { GatewayAuditRecord, RequestAudit } from '../../audit';

/** A JSON-RPC id as echoed in an answer. */
export type JsonRpcId = string | number;

/** JSON-RPC parse error, for a body the gateway refuses to read or cannot parse. */
export const PARSE_ERROR_CODE = -32700;

/** What {@link answerJsonRpc} needs of the admission context. */
export interface AnswerContext {
  res: ServerResponse;
  rid: string;
  server: string;
  audit: RequestAudit<GatewayAuditRecord>;
}

/**
 * Answers the request here with JSON-RPC error response(s) (`data.code` is the stable gateway
 * code, as in every gateway error), audits and finishes the record. Nothing reaches the tunnel.
 */
export function answerJsonRpc(
  ctx: AnswerContext,
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
