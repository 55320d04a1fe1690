import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatewayAuditRecord, RequestAudit } from '../audit';
import { F, type Logger } from '../log';
import { GatewayError } from './errors';
import { announcedSessionId } from './legacy-endpoints';
import { SESSION_BINDING_RULE } from './policy';
import { findNamed } from './query';
import { isBasePath, resolveEndpoint, upstreamUrl } from './routes';
import type { BindingPlace, SessionBinding } from './session-binding';

/** Where a client request goes, decided once from the request as it will be forwarded. */
export interface RequestTarget {
  /** The upstream URL: the configured URL (+ the client's query), or an announced legacy endpoint. */
  url: string;
  /**
   * The session the upstream routes this request to, for binding, affinity and audit: the
   * announced legacy session at a legacy message endpoint, else `Mcp-Session-Id`, else null.
   */
  sessionKey: string | null;
  /** True when this is a POST to a legacy message endpoint. */
  legacy: boolean;
}

export interface TargetContext {
  req: IncomingMessage;
  route: { server: string; rest: string; search: string };
  /** The server's configured URL. */
  serverUrl: string;
  /** Subject key (policy `subjectKey`) of the authenticated client. */
  subject: string;
  sessions: SessionBinding;
  audit: RequestAudit<GatewayAuditRecord>;
  log: () => Logger;
}

/**
 * Decides the upstream URL and the session of a request at `/mcp/{server}[/...]` (docs/policy.md
 * "Paths and sessions"):
 * - more than one `Mcp-Session-Id` header line → 400 `TUNNEL_DUPLICATE_SESSION_ID`;
 * - a sub-path, or a query with a session-routing parameter (`sessionId`, `session_id`, or a name
 *   the server used in an announced endpoint, in any reading of ./query), must be exactly a legacy
 *   endpoint announced on an open GET stream of the same identity, and a POST; else 404
 *   (`TUNNEL_NOT_FOUND`, or `TUNNEL_SESSION_NOT_FOUND` when it names a session);
 * - otherwise the configured URL with the client's query appended; a client parameter that would
 *   replace or repeat a configured one → 400 `TUNNEL_QUERY_CONFLICT`;
 * - an `Mcp-Session-Id` another identity created → 404 `TUNNEL_SESSION_NOT_FOUND` (also checked
 *   at a legacy endpoint: both bindings apply).
 * Returns the error to answer instead of throwing.
 */
export function resolveTarget(ctx: TargetContext): RequestTarget | GatewayError {
  const { req, route } = ctx;
  const server = route.server;
  const lines = sessionHeaderLines(req.rawHeaders);
  if (lines.length > 1) {
    return new GatewayError('TUNNEL_DUPLICATE_SESSION_ID', `more than one Mcp-Session-Id header (${lines.length}); send exactly one`);
  }
  // An empty value names no session (as before: the SDK treats it as absent).
  const mcpSessionId = lines[0] || null;
  if (mcpSessionId !== null) {
    const owner = ctx.sessions.ownerOf(server, mcpSessionId);
    if (owner !== null && owner !== ctx.subject) return bindingDenied(ctx, 'Mcp-Session-Id');
  }

  const router = findNamed(route.search, ctx.sessions.routersOf(server));
  if (!isBasePath(route.rest) || router !== null) {
    const entry = req.method === 'POST' ? ctx.sessions.endpoint(server, route.rest, route.search) : null;
    if (entry === null) {
      if (router === null) return new GatewayError('TUNNEL_NOT_FOUND', `no route for ${req.method ?? ''} /mcp/${server}${route.rest}: only the server's endpoint and the message endpoints it announced exist`);
      ctx.log().info({ [F.code]: 'TUNNEL_SESSION_NOT_FOUND', [F.reason]: `session-routing parameter "${router}" in a query that is no announced endpoint` }, 'request rejected: not an announced endpoint');
      return new GatewayError('TUNNEL_SESSION_NOT_FOUND', `session not found on server "${server}"`);
    }
    if (entry.owner !== ctx.subject) return bindingDenied(ctx, 'legacy sessionId');
    return { url: entry.upstream, sessionKey: entry.sessionId, legacy: true };
  }

  const url = upstreamUrl(ctx.serverUrl, route.search);
  if (typeof url !== 'string') {
    return new GatewayError('TUNNEL_QUERY_CONFLICT', `query parameter "${url.conflict}" is set by the gateway's configuration for server "${server}" and cannot be sent by a client`);
  }
  return { url, sessionKey: mcpSessionId, legacy: false };
}

function bindingDenied(ctx: TargetContext, which: string): GatewayError {
  ctx.audit.annotate({ policy: { decision: 'deny', rule: SESSION_BINDING_RULE } });
  ctx.log().warn({ [F.code]: 'TUNNEL_SESSION_NOT_FOUND', [F.reason]: `${which} of a session another client identity opened` }, 'session presented by a client that did not create it');
  return new GatewayError('TUNNEL_SESSION_NOT_FOUND', `session not found on server "${ctx.route.server}"`);
}

/** Every `Mcp-Session-Id` header line, as sent (Node joins repeated unknown headers with ", "). */
function sessionHeaderLines(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === 'mcp-session-id') out.push(raw[i + 1]!);
  return out;
}

export interface AnnounceContext {
  /** Server, tunnel connection and identity (the one that opened the GET stream). */
  at: BindingPlace;
  serverUrl: string;
  sessions: SessionBinding;
  /** The client's side of the GET stream: the endpoint lives until it closes. */
  res: ServerResponse;
  log: () => Logger;
}

/**
 * Handles a legacy `event: endpoint` seen on a GET stream: registers the announced endpoint (and
 * its session's connection) for this identity and tunnel connection until the stream closes, and returns the gateway path to
 * write into the event. Null leaves the event unchanged (not a URL, or another origin: the gateway
 * never routes there). When the server's registry is full (or the endpoint is already live), the
 * GET stream is cut rather than announcing an endpoint the gateway would not route.
 */
export function announceLegacyEndpoint(endpoint: string, ctx: AnnounceContext): string | null {
  if (ctx.res.destroyed) return null; // the stream is gone: nothing would ever remove the entry
  const resolved = resolveEndpoint(endpoint, ctx.serverUrl, ctx.at.server);
  if (resolved === null) {
    ctx.log().warn({ [F.reason]: 'the endpoint event names another origin or no URL; POSTs to it are not routed' }, 'legacy endpoint not announced');
    return null;
  }
  const sessionId = announcedSessionId(resolved.rest, resolved.search);
  const remove = ctx.sessions.announce(ctx.at, { rest: resolved.rest, search: resolved.search, upstream: resolved.upstream, sessionId });
  if (remove === null) {
    ctx.log().warn({ [F.code]: 'TUNNEL_LEGACY_ENDPOINTS_FULL', [F.reason]: 'too many open legacy streams for this server, or the endpoint is already announced' }, 'legacy GET stream cut');
    ctx.res.destroy();
    return null;
  }
  ctx.res.once('close', remove);
  return resolved.gatewayPath;
}
