import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HeaderList } from '../http';

const ALLOW_HEADERS = 'authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id, mcp-method, mcp-name';
const EXPOSE_HEADERS = 'mcp-session-id, mcp-protocol-version, www-authenticate, retry-after, x-request-id';

/**
 * Browser MCP clients need `Mcp-Session-Id` exposed through CORS. Only origins that passed the
 * Host/Origin check (host-origin.ts: the gateway's own origin or `allowedOrigins`) get here, so the
 * accepted `Origin` is reflected. `Origin` itself is still forwarded unchanged so the upstream can
 * apply its own allow-list too.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (!origin) return;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('vary', 'Origin');
  res.setHeader('access-control-expose-headers', EXPOSE_HEADERS);
}

/**
 * The upstream's response headers, adjusted so that its own CORS headers cannot undo
 * {@link applyCors}: `writeHead` replaces a header set earlier with the upstream's of the same name,
 * so an upstream `Access-Control-Expose-Headers` (e.g. added by an internal reverse proxy) would hide
 * `Mcp-Session-Id` from browser clients, and an upstream `Vary` would drop `Origin`. The gateway's
 * names are added to the upstream's values; nothing is removed. Unchanged without `Origin`.
 */
export function withGatewayCors(req: IncomingMessage, headers: HeaderList): HeaderList {
  if (!req.headers.origin) return headers;
  return headers.map(([name, value]): [string, string] => {
    const lower = name.toLowerCase();
    if (lower === 'access-control-expose-headers') return [name, union(value, EXPOSE_HEADERS)];
    if (lower === 'vary') return [name, union(value, 'Origin')];
    return [name, value];
  });
}

/** `have` plus the comma-separated names of `add` it lacks (case-insensitive); `*` covers all. */
function union(have: string, add: string): string {
  const present = new Set(have.split(',').map((n) => n.trim().toLowerCase()));
  if (present.has('*')) return have;
  const missing = add.split(',').map((n) => n.trim()).filter((n) => n !== '' && !present.has(n.toLowerCase()));
  if (missing.length === 0) return have;
  return have.trim() === '' ? missing.join(', ') : `${have}, ${missing.join(', ')}`;
}

/**
 * Answers a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`); false if it is not one.
 * Called after the Host/Origin check, so a refused origin gets a 403 instead.
 */
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
