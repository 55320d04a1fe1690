import type { ServerResponse } from 'node:http';
import type { TunnelError } from '../errors';

export interface ErrorContext {
  server: string | null;
  rid: string;
}

/**
 * Answers an HTTP request with a gateway error: the status, `Retry-After` where it applies, and a
 * JSON-RPC-shaped body (MCP clients surface `error.message`) whose `data` names the stable code,
 * the server and the request id.
 */
export function sendError(res: ServerResponse, status: number, err: Pick<TunnelError, 'code' | 'message'>, ctx: ErrorContext, extra: Record<string, string> = {}): void {
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
    ...extra,
  });
  res.end(body);
}
