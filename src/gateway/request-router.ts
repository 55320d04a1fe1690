/**
 * The gateway's HTTP entry: which handler a request or an upgrade goes to, and the checks that run
 * before any of them (Host/Origin). MCP requests are handed to `forward.ts` and tracked until they
 * settle, so that shutdown can give them their grace period.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { RequestAudit, type AuditTrail } from '../audit';
import { describeError } from '../errors';
import { F, type Logger } from '../log';
import { serveResourceMetadata } from './auth/metadata';
import { answerPreflight } from './cors';
import { forwardMcpRequest, type ForwardState } from './forward';
import { checkHostOrigin, type HostOriginSettings } from './host-origin';
import { sendError } from './http-errors';
import type { PolicyRuntime } from './policy';
import type { McpRoute } from './request/context';
import { route } from './routes';
import type { TunnelEndpoint } from './tunnel-endpoint';
import type { TunnelRegistry } from './tunnels';
import type { Recorder } from '../replay';

/** The requests being forwarded now; each leaves the set when it settles. */
export class InFlight {
  readonly #pending = new Set<Promise<void>>();

  get size(): number {
    return this.#pending.size;
  }

  /** Tracks `p` until it settles (`p` must not reject: the caller catches). */
  track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  /** A promise that settles once every request tracked now has settled. */
  allSettled(): Promise<unknown> {
    return Promise.allSettled([...this.#pending]);
  }
}

/** What the router reads; `state` and `hostOrigin` are read per request (a reload swaps them). */
export interface RouterDeps {
  state: () => ForwardState;
  hostOrigin: () => HostOriginSettings;
  registry: TunnelRegistry;
  logger: Logger;
  trail: AuditTrail;
  policy: PolicyRuntime;
  inFlight: InFlight;
  /** Records forwarded traffic (docs/replay.md); absent = off. */
  recorder?: Recorder;
}

/**
 * The `request` listener: `/mcp/{server}` (Host/Origin, CORS preflight, then forward),
 * `/.well-known/oauth-protected-resource…` (Host only), `/healthz`, anything else 404.
 */
export function createRequestHandler(deps: RouterDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  return (req, res) => {
    const r = route(req.url);
    if (r.kind === 'mcp') {
      // Before anything else, the CORS preflight included: a refused origin learns nothing.
      if (refusedHostOrigin(req, res, { server: r.server, path: `/mcp/${r.server}${r.rest}` }, deps)) return;
      if (answerPreflight(req, res)) return;
      deps.inFlight.track(forward(req, res, r, deps));
      return;
    }
    if (r.kind === 'resource-metadata') {
      // Without auth.resource the metadata names the request's Host: only accepted names.
      if (refusedHostOrigin(req, res, null, deps)) return;
      const state = deps.state();
      serveResourceMetadata(req, res, r.server, { clients: state.clients, servers: state.servers });
      return;
    }
    if (r.kind === 'health') {
      serveHealth(res);
      return;
    }
    sendError(res, 404, { code: 'TUNNEL_NOT_FOUND', message: `no route for ${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}` }, { server: null, rid: '' });
  };
}

/** The `upgrade` listener: `/tunnel/{id}` goes to the tunnel endpoint, anything else gets a bare 404. */
export function createUpgradeHandler(endpoint: TunnelEndpoint): (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    const r = route(req.url);
    if (r.kind !== 'tunnel') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    endpoint.handleUpgrade(req, socket, head, r.tunnelId);
  };
}

/** Forwards one MCP request; never rejects (an unexpected error is logged and answered 500, or the response cut). */
function forward(req: http.IncomingMessage, res: http.ServerResponse, r: McpRoute, deps: RouterDeps): Promise<void> {
  const { state, registry, logger, trail, policy, recorder } = deps;
  return forwardMcpRequest(req, res, r, { state, registry, logger, audit: trail, policy, recorder }).catch((err: unknown) => {
    logger.error({ [F.err]: describeError(err) }, 'unexpected error while forwarding');
    if (!res.headersSent) sendError(res, 500, { code: 'TUNNEL_INTERNAL', message: 'internal gateway error' }, { server: r.server, rid: '' });
    else res.destroy();
  });
}

/**
 * Answers a request whose Host/Origin is refused (403); false when it may proceed. A refused MCP
 * request is audited like any other refusal (client unknown: it is checked before authentication).
 */
function refusedHostOrigin(req: http.IncomingMessage, res: http.ServerResponse, mcp: { server: string; path: string } | null, deps: RouterDeps): boolean {
  const refused = checkHostOrigin(req, deps.hostOrigin(), { origin: mcp !== null });
  if (refused === null) return false;
  const rid = randomUUID();
  const server = mcp?.server ?? null;
  deps.logger.info({ [F.requestId]: rid, [F.code]: refused.code, [F.status]: 403, [F.server]: server, [F.remote]: req.socket.remoteAddress, [F.reason]: refused.message }, 'request refused: Host/Origin');
  if (mcp !== null) {
    const audit = RequestAudit.gateway({ rid, client: null, server: mcp.server, tunnel: null, httpMethod: req.method ?? 'GET', path: mcp.path }, deps.trail.hooks);
    audit.setStatus(403).fail(refused.code);
    audit.finish();
  }
  sendError(res, 403, refused, { server, rid }, { connection: 'close' });
  req.resume();
  return true;
}

function serveHealth(res: http.ServerResponse): void {
  // Public and unauthenticated: liveness only. Tunnel ids (and which are connected) would tell
  // anyone where to aim connection attempts.
  const body = JSON.stringify({ status: 'ok' });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
