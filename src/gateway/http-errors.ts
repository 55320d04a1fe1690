import type { ServerResponse } from 'node:http';
import type { GatewayErrorCode } from './errors';

export interface ErrorContext {
  server: string | null;
  rid: string;
}

/** An error the gateway can answer: a registry code, its message and (when retryable) `Retry-After` seconds. */
export interface AnswerableError {
  code: GatewayErrorCode;
  message: string;
  retryAfter?: number | null;
}

/**
 * Answers an HTTP request with a gateway error: the status, `Retry-After` when the error carries one
 * (exactly the retryable codes), and a JSON-RPC-shaped body (MCP clients surface `error.message`)
 * whose `data` names the stable code, the server and the request id. Once the head is sent, the
 * connection is cut instead (a truncated body must never look complete).
 */
export function sendError(res: ServerResponse, status: number, err: AnswerableError, ctx: ErrorContext, extra: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: null,
    error: {
      code: -32000,
      message: err.message,
      data: { code: err.code, server: ctx.server, requestId: ctx.rid },
    },
  });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': ctx.rid,
    ...(err.retryAfter !== undefined && err.retryAfter !== null ? { 'retry-after': String(err.retryAfter) } : {}),
    ...extra,
  });
  res.end(body);
}
