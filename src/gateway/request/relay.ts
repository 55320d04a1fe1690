/**
 * The response direction of the exchange: the head as the client gets it, the session bindings it
 * establishes, and the body piped (through the `tools/list` filter and the legacy endpoint rewriter
 * where they apply) with the response digest beside it.
 */
import type { Readable } from 'node:stream';
import { getHeader, responseHeadersForClient, toNodeHeaders, type HeaderList } from '../../http';
import type { BadResponseHeadError, MuxStream } from '../../mux';
import type { ResponseHead } from '../../protocol';
import { BodyDigest } from '../body';
import { withGatewayCors } from '../cors';
import { sendFilteredResponse, toolsSseFilter, withoutLength } from '../policy';
import type { BindingPlace, SessionBinding } from '../session-binding';
import { SseEndpointRewriter } from '../sse-endpoint';
import { requestStillArriving, responseHeadProblem } from '../stream-lifecycle';
import type { ResumableResponse } from '../resume';
import { announceLegacyEndpoint } from '../target';
import type { Admitted } from './admit';
import type { RequestContext } from './context';

/** What the response direction needs besides the request. */
export interface RelayPlan {
  admitted: Admitted;
  /** Where the exchange runs: server, tunnel connection and the client's identity. */
  at: BindingPlace;
  sessions: SessionBinding;
  /** The client is still sending a body the gateway pipes into the tunnel. */
  piped: boolean;
  /** Resumption of an SSE response on another tunnel stream (src/gateway/resume/); null when the request cannot have one. */
  resume?: ResumableResponse | null;
}

/**
 * The head the client will get (the proxy's, hop-by-hop removed, CORS added), or the problem that
 * keeps it from being written: checked exactly as `writeHead` will, so it cannot throw later.
 */
export function clientHead(ctx: RequestContext, head: ResponseHead, piped: boolean): HeaderList | BadResponseHeadError {
  const headers: HeaderList = withGatewayCors(ctx.req, responseHeadersForClient(head.headers));
  const bad = responseHeadProblem(head.status, headers);
  if (bad) return bad;
  if (requestStillArriving(ctx.req, piped)) headers.push(['connection', 'close']);
  return headers;
}

/** A response head names (or ends) a session: bind it to this connection and identity, or forget it. */
function bindSessions(ctx: RequestContext, status: number, headers: HeaderList, plan: RelayPlan): void {
  const sid = getHeader(headers, 'mcp-session-id');
  if (sid) plan.sessions.bind(plan.at, sid);
  const ended = plan.admitted.target.sessionKey;
  if (ctx.req.method === 'DELETE' && ended && status < 300) plan.sessions.end(plan.at.server, plan.at.tunnelId, ended);
}

/** Writes the head and pipes the response body to the client, with its digest beside the pipe. */
export function relayResponse(ctx: RequestContext, tunnel: MuxStream, head: ResponseHead, headers: HeaderList, plan: RelayPlan): void {
  const { req, res, audit } = ctx;
  bindSessions(ctx, head.status, headers, plan);
  audit.setStatus(head.status);
  const isSse = (getHeader(headers, 'content-type') ?? '').startsWith('text/event-stream');
  const getStream = isSse && req.method === 'GET';
  const filter = plan.admitted.admission.toolsFilter;
  // Resumption hook: the body of a resumable SSE response outlives this tunnel stream.
  const stream: Readable = (!filter || getStream ? plan.resume?.start(tunnel, head) : null) ?? tunnel;
  const digest = new BodyDigest('response', ctx.state.auditBodies);
  stream.on('data', (chunk: Buffer) => digest.update(chunk));
  stream.once('end', () => digest.record(audit, getHeader(head.headers, 'content-type')));
  if (filter && !getStream) {
    sendFilteredResponse(tunnel, res, head.status, headers, filter);
    return;
  }
  // A GET stream's events are rewritten (endpoint, tools filter): no upstream Content-Length.
  res.writeHead(head.status, toNodeHeaders(getStream ? withoutLength(headers) : headers));
  if (isSse) res.flushHeaders();
  if (!getStream) {
    stream.pipe(res);
    return;
  }
  const rewriter = new SseEndpointRewriter((endpoint) =>
    announceLegacyEndpoint(endpoint, { at: plan.at, serverUrl: plan.admitted.server.url, sessions: plan.sessions, res, log: ctx.log }),
  );
  const out = stream.pipe(rewriter);
  (filter ? out.pipe(toolsSseFilter(stream, filter)) : out).pipe(res);
}
