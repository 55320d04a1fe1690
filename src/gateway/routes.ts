/** URL space of the gateway. */
export type Route =
  | { kind: 'mcp'; server: string; rest: string; search: string }
  | { kind: 'tunnel'; tunnelId: string }
  | { kind: 'health' }
  /** RFC 9728 protected resource metadata: the gateway's (`server` null) or one server's. */
  | { kind: 'resource-metadata'; server: string | null }
  | { kind: 'none' };

const NAME = '[A-Za-z0-9._-]{1,64}';
const MCP = new RegExp(`^/mcp/(${NAME})(/[^?]*)?$`);
const TUNNEL = new RegExp(`^/tunnel/(${NAME})/?$`);
const RESOURCE_METADATA = new RegExp(`^/\\.well-known/oauth-protected-resource(?:/mcp/(${NAME}))?/?$`);

/** Splits a request target (`req.url`) into a route. Never throws. */
export function route(target: string | undefined): Route {
  const t = target ?? '/';
  const q = t.indexOf('?');
  const path = q < 0 ? t : t.slice(0, q);
  const search = q < 0 ? '' : t.slice(q);
  let m = MCP.exec(path);
  if (m?.[1]) return { kind: 'mcp', server: m[1], rest: m[2] ?? '', search };
  m = TUNNEL.exec(path);
  if (m?.[1]) return { kind: 'tunnel', tunnelId: m[1] };
  if (path === '/healthz') return { kind: 'health' };
  m = RESOURCE_METADATA.exec(path);
  if (m) return { kind: 'resource-metadata', server: m[1] ?? null };
  return { kind: 'none' };
}

/**
 * The upstream URL for a client request. `/mcp/{server}` (and `/mcp/{server}/`) is the server's configured URL (with the
 * client's query string, or the configured one if the client sent none); `/mcp/{server}/{path}`
 * is `/{path}` on the server's origin — which is where a legacy HTTP+SSE server's `endpoint`
 * event (e.g. `/messages?sessionId=…`) points once the gateway has rewritten it.
 */
export function upstreamUrl(serverUrl: string, rest: string, search: string): string {
  const u = new URL(serverUrl);
  // `/mcp/notes/` is the server itself, as `/mcp/notes` is: clients often add the slash.
  if (rest === '' || rest === '/') return `${u.origin}${u.pathname}${search || u.search}`;
  return `${u.origin}${rest}${search}`;
}

/**
 * Maps a legacy `endpoint` event's URL (relative to the upstream SSE URL, or absolute) to the
 * gateway path that leads back to it; null when it points at another origin (left unchanged).
 */
export function gatewayPathFor(endpoint: string, upstreamSseUrl: string, server: string): string | null {
  let target: URL;
  try {
    target = new URL(endpoint, upstreamSseUrl);
  } catch {
    return null;
  }
  if (target.origin !== new URL(upstreamSseUrl).origin) return null;
  return `/mcp/${server}${target.pathname}${target.search}`;
}
