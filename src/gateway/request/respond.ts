/**
 * The respond step: every answer the gateway itself gives on the request path (an error before the
 * response started, a cut after), the mapping of tunnel failures to those answers, and the end of
 * the audit record. Nothing here decides whether a request may go on (./admit.ts) or moves bytes
 * (./exchange.ts).
 */
import { describeError } from '../../errors';
import { F } from '../../log';
import { ConnectionClosedError, StreamResetError, type MuxStream } from '../../mux';
import { ErrorCode } from '../../protocol';
import { GatewayError, isGatewayErrorCode, type GatewayErrorCode } from '../errors';
import { sendError } from '../http-errors';
import { ToolsFilterError } from '../policy';
import { tunnelStreamClosed } from '../stream-lifecycle';
import type { RequestContext } from './context';

/**
 * Gateway code of each reset code the proxy sends before a response head. Status, `retryable`
 * and `Retry-After` follow from the code's registry entry, so the proxy's verdict survives the
 * tunnel: an unreachable upstream (nothing processed) is retryable, a timeout or reset is not
 * (the request may have run) — as in the proxy's own registry (src/dispatch/errors.ts).
 */
type Says = (server: string, why: string) => string;
const RESET_CODES: ReadonlyMap<number, { code: GatewayErrorCode; says: Says }> = new Map<number, { code: GatewayErrorCode; says: Says }>([
  [ErrorCode.UPSTREAM_UNREACHABLE, { code: 'TUNNEL_UPSTREAM_UNREACHABLE', says: (s, why) => `server "${s}" is unreachable from the proxy: ${why}` }],
  [ErrorCode.UPSTREAM_TIMEOUT, { code: 'TUNNEL_UPSTREAM_TIMEOUT', says: (s, why) => `server "${s}" did not answer in time: ${why}` }],
  [ErrorCode.UPSTREAM_RESET, { code: 'TUNNEL_UPSTREAM_RESET', says: (s, why) => `server "${s}" closed the connection: ${why}` }],
  [ErrorCode.UPSTREAM_FORBIDDEN, { code: 'TUNNEL_EGRESS_DENIED', says: (s, why) => `the proxy refused to call server "${s}": ${why}` }],
  [ErrorCode.REFUSED_STREAM, { code: 'TUNNEL_STREAM_REFUSED', says: (s, why) => `the proxy refused the request for server "${s}": ${why}` }],
  [ErrorCode.FRAME_TOO_LARGE, { code: 'TUNNEL_HEADERS_TOO_LARGE', says: (s) => `request headers for server "${s}" are too large for the tunnel` }],
]);

/** Maps a failure of the tunnel exchange to the gateway error it is answered (or recorded) with. */
export function streamFailure(err: unknown, server: string): GatewayError {
  if (err instanceof StreamResetError) {
    const why = err.message.replace(/^stream reset by peer: /, '');
    const known = RESET_CODES.get(err.wireCode);
    if (known) return new GatewayError(known.code, known.says(server, why), { cause: err });
    return new GatewayError('TUNNEL_STREAM_RESET', `request to server "${server}" failed in the tunnel: ${why}`, { cause: err });
  }
  if (err instanceof ToolsFilterError) return new GatewayError(err.code, `server "${server}": ${err.message}`);
  const code = (err as { code?: unknown }).code;
  if ((code === 'TUNNEL_BAD_RESPONSE_HEAD' || code === 'TUNNEL_STREAM_PROTOCOL') && isGatewayErrorCode(code)) {
    return new GatewayError(code, `server "${server}": ${describeError(err)}`, { cause: err });
  }
  if (err instanceof ConnectionClosedError) {
    return new GatewayError('TUNNEL_CONNECTION_LOST', `tunnel connection for server "${server}" was lost: ${err.message}`, { cause: err });
  }
  return new GatewayError('TUNNEL_INTERNAL', `request to server "${server}" failed: ${describeError(err)}`, { status: 502, cause: err });
}

/** Any thrown value as a gateway error (an unexpected one is a 500 `TUNNEL_INTERNAL`). */
export function asGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : new GatewayError('TUNNEL_INTERNAL', describeError(err), { cause: err });
}

/**
 * Answers the request here with `err` (nothing went into the tunnel, or nothing more will):
 * the audit record gets the status and code and is finished, and an unread body is discarded so
 * the connection can be reused.
 */
export function reject(ctx: RequestContext, err: GatewayError): void {
  const { req, res, audit, route } = ctx;
  audit.setStatus(err.status).fail(err.code);
  ctx.log().info({ [F.code]: err.code, [F.status]: err.status, [F.reason]: err.message }, 'request rejected');
  const extra: Record<string, string> = {};
  if (err.status === 401 || err.code === 'TUNNEL_INSUFFICIENT_SCOPE') extra['www-authenticate'] = ctx.state.clients.challenge(err, req, route.server);
  if (err.code === 'TUNNEL_UNSUPPORTED_ENCODING') extra['accept-encoding'] = 'identity'; // RFC 7694
  sendError(res, err.status, err, { server: route.server, rid: ctx.rid }, extra);
  audit.finish();
  req.resume();
}

/** The tunnel exchange failed before any response head: answer the client with the mapped error. */
export function answerFailure(ctx: RequestContext, err: unknown): void {
  const e = streamFailure(err, ctx.route.server);
  ctx.audit.setStatus(e.status).fail(e.code);
  ctx.log().warn({ [F.code]: e.code, [F.reason]: e.message }, 'request failed in the tunnel');
  sendError(ctx.res, e.status, e, { server: ctx.route.server, rid: ctx.rid });
}

/**
 * The tunnel exchange failed after the response started: cut the client's connection so a
 * truncated body is never taken for a complete one.
 */
export function cutResponse(ctx: RequestContext, err: unknown): void {
  if (ctx.res.destroyed) return;
  const e = streamFailure(err, ctx.route.server);
  ctx.audit.fail(e.code);
  ctx.log().warn({ [F.code]: e.code, [F.reason]: e.message }, 'response failed mid-stream; client connection reset');
  ctx.res.destroy();
}

/** The client's body grew past the limit before any response head: 413, and the connection closes. */
export function answerTooLarge(ctx: RequestContext, e: GatewayError): void {
  ctx.audit.setStatus(e.status).fail(e.code);
  ctx.log().info({ [F.code]: e.code, [F.reason]: e.message }, 'request rejected');
  sendError(ctx.res, e.status, e, { server: ctx.route.server, rid: ctx.rid }, { connection: 'close' });
}

/**
 * Ends the audit record of an exchange: `bytesIn` is what went into the tunnel, so it waits until
 * the stream closed (the proxy may still be discarding a body its upstream did not read) and both
 * sides' records agree.
 */
export async function finishRecord(ctx: RequestContext, stream: MuxStream, withBody: boolean): Promise<void> {
  await tunnelStreamClosed(stream);
  if (withBody) ctx.audit.addBytesIn(stream.bytesSent);
  ctx.audit.finish();
}
