/**
 * The legacy HTTP+SSE transport (2024-11-05) in replay: the GET stream announces a message endpoint
 * in its first `event: endpoint`; POSTs to it are answered 202 and their answers travel on the stream.
 * Replay announces its own endpoint under `/mcp/{server}/…` with a live session id (docs/replay.md).
 */

/** Where a replay request goes: `/mcp/{server}` (or `/mcp/{server}/`), or a legacy `/mcp/{server}/{rest}`. */
export function routeOf(pathname: string): { server: string; rest: string | undefined } | undefined {
  const m = /^\/mcp\/([^/]+)(?:\/|(\/.+))?$/.exec(pathname);
  if (m === null) return undefined;
  try {
    return { server: decodeURIComponent(m[1]!), rest: m[2] };
  } catch {
    return undefined; // a malformed percent-escape names no server
  }
}

/** The recorded session id a recorded `endpoint` event announced (`sessionId` query parameter). */
export function announcedSession(data: string): string | undefined {
  try {
    return new URL(data, 'http://recording').searchParams.get('sessionId') ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * The endpoint to announce live: the recorded one's path (without a gateway's `/mcp/{server}` prefix,
 * which a recording made at the gateway carries) under this server's `/mcp/{server}`, with the live
 * session id in place of the recorded one. Other query parameters are kept.
 */
export function liveEndpoint(recorded: string, server: string, liveSession: string): string {
  const u = new URL(recorded, 'http://recording');
  const prefix = `/mcp/${encodeURIComponent(server)}`;
  let path = u.pathname.startsWith(`${prefix}/`) ? u.pathname.slice(prefix.length) : u.pathname;
  if (path === '/' || path === '') path = '/messages';
  u.searchParams.set('sessionId', liveSession);
  return `${prefix}${path}${u.search}`;
}
