import type { IncomingMessage, ServerResponse } from 'node:http';

const ALLOW_HEADERS = 'authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id, mcp-method, mcp-name';
const EXPOSE_HEADERS = 'mcp-session-id, mcp-protocol-version, www-authenticate, retry-after, x-request-id';

/**
 * Browser MCP clients need `Mcp-Session-Id` exposed through CORS. Clients authenticate with a
 * bearer key, not cookies, so any origin may call; the key is what is checked. `Origin` itself is
 * still forwarded unchanged so the upstream can apply its own DNS-rebinding checks.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (!origin) return;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'Origin');
  res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
}

/** Answers a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`); false if it is not one. */
export function answerPreflight(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== 'OPTIONS' || !req.headers.origin || !req.headers['access-control-request-method']) return false;
  applyCors(req, res);
  res.writeHead(204, {
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-allow-headers': req.headers['access-control-request-headers'] ?? ALLOW_HEADERS,
    'access-control-max-age': '600',
  });
  res.end();
  return true;
}
