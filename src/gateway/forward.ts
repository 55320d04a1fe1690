import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromEvent } from 'rxjs';
import { BodyCapture, RequestAudit, type AuditTrail, type BodyCaptureConfig } from '../audit';
import { describeError } from '../errors';
import { fromNodeRawHeaders, getHeader, requestHeadersForUpstream, responseHeadersForClient, toNodeHeaders, type HeaderList } from '../http';
import { F, type Logger } from '../log';
import { ConnectionClosedError, StreamResetError, type MuxStream } from '../mux';
import { ErrorCode, type ResponseHead } from '../protocol';
import type { ClientAuthenticator, ClientIdentity } from './auth';
import { checkBodyHeaders, hasRequestBody, pumpRequestBody } from './body';
import { GatewayError } from './errors';
import { sendError } from './http-errors';
import { SseEndpointRewriter } from './sse-endpoint';
import { announceLegacyEndpoint, resolveTarget } from './target';
import type { TunnelConnection, TunnelRegistry } from './tunnels';
import { applyCors, withGatewayCors } from './cors';
import { endRequestWithResponse, requestStillArriving, responseHeadProblem, tunnelStreamClosed } from './stream-lifecycle';
import { ToolsFilterError, admitRequest, admitStream, sendFilteredResponse, subjectKey, toolsSseFilter, withoutLength, type CompiledPolicy, type PolicyRuntime } from './policy';

/** What the forwarder reads per request; replaced as a whole when the configuration reloads. */
export interface ForwardState {
  clients: ClientAuthenticator;
  servers: ReadonlyMap<string, { name: string; tunnel: string; url: string }>;
  maxRequestBodyBytes: number;
  connectWaitMs: number;
  /** `limits.maxOpenStreamsPerClient` (GET streams per identity); absent = the default. */
  maxOpenStreamsPerClient?: number;
  /** Request policy of this configuration generation (docs/policy.md). */
  policy: CompiledPolicy;
  /** Body capture for audit records (`audit.bodies`); null = off (the default). */
  auditBodies?: BodyCaptureConfig | null;
}

export interface ForwardDeps {
  state: () => ForwardState;
  registry: TunnelRegistry;
  logger: Logger;
  audit: AuditTrail;
  /** Policy state kept across reloads: rate buckets, in-flight counts, session owners. */
  policy: PolicyRuntime;
}

/** Maps a stream failure that happened before any response head to the client's HTTP answer. */
function streamFailure(err: unknown, server: string): GatewayError {
  if (err instanceof StreamResetError) {
    const why = err.message.replace(/^stream reset by peer: /, '');
    switch (err.wireCode) {
      case ErrorCode.UPSTREAM_UNREACHABLE:
        return new GatewayError('TUNNEL_UPSTREAM_UNREACHABLE', 502, `server "${server}" is unreachable from the proxy: ${why}`);
      case ErrorCode.UPSTREAM_TIMEOUT:
        return new GatewayError('TUNNEL_UPSTREAM_TIMEOUT', 504, `server "${server}" did not answer in time: ${why}`);
      case ErrorCode.UPSTREAM_RESET:
        return new GatewayError('TUNNEL_UPSTREAM_RESET', 502, `server "${server}" closed the connection: ${why}`);
      case ErrorCode.UPSTREAM_FORBIDDEN:
        return new GatewayError('TUNNEL_EGRESS_DENIED', 403, `the proxy refused to call server "${server}": ${why}`);
      case ErrorCode.REFUSED_STREAM:
        return new GatewayError('TUNNEL_STREAM_REFUSED', 503, `the proxy refused the request for server "${server}": ${why}`, { retryAfter: 1 });
      case ErrorCode.FRAME_TOO_LARGE:
        return new GatewayError('TUNNEL_HEADERS_TOO_LARGE', 431, `request headers for server "${server}" are too large for the tunnel`);
      default:
        return new GatewayError('TUNNEL_STREAM_RESET', 502, `request to server "${server}" failed in the tunnel: ${why}`);
    }
  }
  if (err instanceof ToolsFilterError) return new GatewayError(err.code, 502, `server "${server}": ${err.message}`);
  const code = (err as { code?: unknown }).code;
  if (code === 'TUNNEL_BAD_RESPONSE_HEAD' || code === 'TUNNEL_STREAM_PROTOCOL') {
    return new GatewayError(code, 502, `server "${server}": ${describeError(err)}`);
  }
  if (err instanceof ConnectionClosedError) {
    return new GatewayError('TUNNEL_CONNECTION_LOST', 502, `tunnel connection for server "${server}" was lost: ${err.message}`);
  }
  return new GatewayError('TUNNEL_INTERNAL', 502, `request to server "${server}" failed: ${describeError(err)}`);
}

/**
 * Serves one MCP request at `/mcp/{server}[/{path}]`: authenticate the client, check the server
 * and policy, pick a tunnel connection (waiting a bounded time for one), open a stream, and pump
 * bodies both ways with end-to-end backpressure. Writes one audit record when the exchange ends.
 */
export async function forwardMcpRequest(
  req: IncomingMessage,
  res: ServerResponse,
  route: { server: string; rest: string; search: string },
  deps: ForwardDeps,
): Promise<void> {
  const state = deps.state();
  const rid = randomUUID();
  const serverName = route.server;
  const audit = RequestAudit.gateway(
    { rid, client: null, server: serverName, tunnel: null, httpMethod: req.method ?? 'GET', path: `/mcp/${serverName}${route.rest}` },
    { onFinish: (r) => deps.audit.write(r) },
  );
  // Child loggers cost a few microseconds; only unusual paths log, so build one on demand.
  const log = (): Logger => deps.logger.child({ [F.requestId]: rid, [F.server]: serverName });
  const reject = (err: GatewayError): void => {
    audit.setStatus(err.status).fail(err.code);
    log().info({ [F.code]: err.code, [F.status]: err.status, [F.reason]: err.message }, 'request rejected');
    const extra: Record<string, string> = {};
    if (err.retryAfter !== null) extra['retry-after'] = String(err.retryAfter);
    if (err.status === 401 || err.code === 'TUNNEL_INSUFFICIENT_SCOPE') extra['www-authenticate'] = state.clients.challenge(err, req, serverName);
    if (err.code === 'TUNNEL_UNSUPPORTED_ENCODING') extra['accept-encoding'] = 'identity'; // RFC 7694
    sendError(res, err.status, err, { server: serverName, rid }, extra);
    audit.finish();
    req.resume(); // discard an unread body so the connection can be reused
  };
  applyCors(req, res);

  let client: ClientIdentity;
  try {
    client = await state.clients.authenticate(req.headers.authorization);
  } catch (err) {
    return reject(err instanceof GatewayError ? err : new GatewayError('TUNNEL_INTERNAL', 500, describeError(err)));
  }
  audit.annotate({ client: client.name });
  const server = state.servers.get(serverName);
  if (!server) return reject(new GatewayError('TUNNEL_UNKNOWN_SERVER', 404, `unknown server "${serverName}"`));
  audit.annotate({ tunnel: server.tunnel });
  const denied = state.clients.authorize(client, serverName);
  if (denied) return reject(denied);
  const badBody = checkBodyHeaders(req);
  if (badBody) return reject(badBody);
  const tooManyStreams = admitStream(req, res, client, state.maxOpenStreamsPerClient, deps.policy.limiter);
  if (tooManyStreams) return reject(tooManyStreams);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > state.maxRequestBodyBytes) {
    return reject(new GatewayError('TUNNEL_BODY_TOO_LARGE', 413, `request body of ${declared} bytes exceeds the limit of ${state.maxRequestBodyBytes} bytes`));
  }
  const target = resolveTarget({ req, route, serverUrl: server.url, subject: subjectKey(client), sessions: deps.policy.sessions, audit, log });
  if (target instanceof GatewayError) return reject(target);
  const sessionKey = target.sessionKey;
  if (sessionKey) audit.annotate({ sessionId: sessionKey.slice(0, 64) });
  const admission = await admitRequest({
    req, res, rid, server: serverName, subject: client, sessionKey, legacy: target.legacy, hasBody: hasRequestBody(req),
    policy: state.policy, runtime: deps.policy, maxRequestBodyBytes: state.maxRequestBodyBytes, audit, log, reject,
  });
  if (admission === null) return; // answered by the policy; nothing entered the tunnel

  let conn: TunnelConnection | null;
  try {
    conn = await deps.registry.acquire(server.tunnel, sessionKey, state.connectWaitMs, fromEvent(res, 'close'));
  } catch (err) {
    return reject(err instanceof GatewayError ? err : new GatewayError('TUNNEL_INTERNAL', 500, describeError(err)));
  }
  if (!conn) {
    audit.abort('TUNNEL_CLIENT_GONE');
    audit.finish();
    return;
  }
  audit.annotate({ conn: conn.id });

  const url = target.url;
  const withBody = admission.body.kind !== 'none';
  // A body larger than the inspection bound: the client is still sending while we forward.
  const piped = admission.body.kind === 'prefix';
  let stream: MuxStream;
  try {
    stream = conn.mux.openStream(
      { rid, server: serverName, url, method: req.method ?? 'GET', headers: requestHeadersForUpstream(fromNodeRawHeaders(req.rawHeaders)) },
      { endStream: !withBody },
    );
  } catch (err) {
    return reject(new GatewayError('TUNNEL_STREAM_REFUSED', 503, `tunnel connection refused the request: ${describeError(err)}`, { retryAfter: 1 }));
  }
  const tunnelId = server.tunnel;
  const connId = conn.id;
  let responded = false;
  let tooLarge = false;

  const done = new Promise<void>((resolve) => {
    let settled = false;
    const settle = (): void => {
      if (settled) return;
      settled = true;
      deps.registry.notify(tunnelId);
      resolve();
    };

    stream.once('response', (head: ResponseHead) => {
      if (res.destroyed || tooLarge) {
        stream.destroy();
        return settle();
      }
      const headers: HeaderList = withGatewayCors(req, responseHeadersForClient(head.headers));
      // Checked as writeHead will, so that it cannot throw in this handler (that would crash the gateway).
      const bad = responseHeadProblem(head.status, headers);
      if (bad) {
        stream.destroy(bad);
        return;
      }
      if (requestStillArriving(req, piped)) headers.push(['connection', 'close']);
      responded = true;
      const sid = getHeader(headers, 'mcp-session-id');
      if (sid) deps.registry.bindSession(tunnelId, sid, connId);
      if (sid) deps.policy.sessions.bind(serverName, sid, subjectKey(client));
      if (req.method === 'DELETE' && sessionKey && head.status < 300) {
        deps.registry.unbindSession(tunnelId, sessionKey);
        deps.policy.sessions.unbind(serverName, sessionKey);
      }
      audit.setStatus(head.status);
      // Digest of the body as it arrives from the upstream, for the audit record (a listener next
      // to the pipe: it sees every chunk and changes nothing).
      const responseHash = createHash('sha256');
      const responseCapture = state.auditBodies ? new BodyCapture(state.auditBodies) : null;
      stream.on('data', (chunk: Buffer) => {
        responseHash.update(chunk);
        responseCapture?.push(chunk);
      });
      stream.once('end', () => {
        audit.annotate({ responseSha256: responseHash.digest('hex') });
        if (responseCapture) audit.annotate({ responseBody: responseCapture.result(getHeader(head.headers, 'content-type')) });
      });
      const isSse = (getHeader(headers, 'content-type') ?? '').startsWith('text/event-stream');
      res.once('finish', () => {
        audit.addBytesOut(stream.bytesReceived);
        settle();
      });
      if (admission.toolsFilter && !(isSse && req.method === 'GET')) {
        sendFilteredResponse(stream, res, head.status, headers, admission.toolsFilter);
        return;
      }
      // A GET stream's events are rewritten (endpoint, tools filter): no upstream Content-Length.
      res.writeHead(head.status, toNodeHeaders(isSse && req.method === 'GET' ? withoutLength(headers) : headers));
      if (isSse) res.flushHeaders();
      if (isSse && req.method === 'GET') {
        const rewriter = new SseEndpointRewriter((endpoint) =>
          announceLegacyEndpoint(endpoint, { server: serverName, serverUrl: server.url, owner: subjectKey(client), tunnelId, connId, sessions: deps.policy.sessions, registry: deps.registry, res, log }),
        );
        const out = stream.pipe(rewriter);
        (admission.toolsFilter ? out.pipe(toolsSseFilter(stream, admission.toolsFilter)) : out).pipe(res);
      } else {
        stream.pipe(res);
      }
    });

    stream.once('error', (err: unknown) => {
      if (responded) {
        // The response already started: cut the client's connection so a truncated body is never
        // taken for a complete one.
        audit.addBytesOut(stream.bytesReceived);
        if (!res.destroyed) {
          const e = streamFailure(err, serverName);
          audit.fail(e.code);
          log().warn({ [F.code]: e.code, [F.reason]: e.message }, 'response failed mid-stream; client connection reset');
          res.destroy();
        }
        return settle();
      }
      if (tooLarge) return settle();
      if (res.destroyed) {
        audit.abort('TUNNEL_CLIENT_GONE');
        return settle();
      }
      const e = streamFailure(err, serverName);
      audit.setStatus(e.status).fail(e.code);
      log().warn({ [F.code]: e.code, [F.reason]: e.message }, 'request failed in the tunnel');
      const extra: Record<string, string> = e.retryAfter !== null ? { 'retry-after': String(e.retryAfter) } : {};
      sendError(res, e.status, e, { server: serverName, rid }, extra);
      settle();
    });

    res.once('close', () => {
      if (!res.writableFinished) {
        audit.addBytesOut(stream.bytesReceived);
        audit.abort('TUNNEL_CLIENT_GONE');
        stream.destroy();
      }
      settle();
    });
  });

  if (admission.body.kind !== 'none') {
    pumpRequestBody({
      req, stream, body: admission.body, maxBytes: state.maxRequestBodyBytes, audit, auditBodies: state.auditBodies,
      onTooLarge: () => {
        tooLarge = true;
        stream.destroy();
        if (responded) return;
        const e = new GatewayError('TUNNEL_BODY_TOO_LARGE', 413, `request body exceeds the limit of ${state.maxRequestBodyBytes} bytes`);
        audit.setStatus(413).fail(e.code);
        log().info({ [F.code]: e.code, [F.reason]: e.message }, 'request rejected');
        sendError(res, 413, e, { server: serverName, rid }, { connection: 'close' });
      },
    });
    if (piped) endRequestWithResponse(req, stream, () => log().debug({ [F.reason]: 'response complete first' }, 'request body cut short; client connection will close'));
  }

  await done;
  // bytesIn is what went into the tunnel: wait until the stream closed (the proxy may still be
  // discarding a body its upstream did not read), so both sides' records agree.
  await tunnelStreamClosed(stream);
  if (withBody) audit.addBytesIn(stream.bytesSent);
  audit.finish();
}
