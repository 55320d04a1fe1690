import { PassThrough, type Readable } from 'node:stream';
import { RequestAudit, auditUpstream, type AuditTrail } from '../audit';
import { describeError } from '../errors';
import type { UpstreamDispatcher } from '../dispatch';
import { F, type Logger } from '../log';
import { discardIncoming, type DiscardBudget, type MuxStream } from '../mux';
import { ErrorCode, type RequestHead } from '../protocol';

export interface ServeStreamDeps {
  dispatcher: UpstreamDispatcher;
  tunnelId: string;
  audit: AuditTrail;
  logger: Logger;
  /** Bounds on discarding a request body the upstream did not read (default DEFAULT_DISCARD_BUDGET). */
  discardBudget?: DiscardBudget;
}

/** Wire code for a dispatch failure before the response head. */
function wireCodeFor(code: string | undefined): number {
  switch (code) {
    case 'TUNNEL_UPSTREAM_UNREACHABLE':
    case 'TUNNEL_UPSTREAM_TLS_CONFIG':
      return ErrorCode.UPSTREAM_UNREACHABLE;
    case 'TUNNEL_UPSTREAM_TIMEOUT':
      return ErrorCode.UPSTREAM_TIMEOUT;
    case 'TUNNEL_UPSTREAM_BAD_URL':
    case 'TUNNEL_UPSTREAM_FORBIDDEN':
      return ErrorCode.UPSTREAM_FORBIDDEN;
    case 'TUNNEL_UPSTREAM_ABORTED':
      return ErrorCode.CANCEL;
    default:
      return ErrorCode.UPSTREAM_RESET;
  }
}

/**
 * Serves one tunnelled request: call the upstream with undici, send the response head, then pump
 * the body into the stream with backpressure (`pipe` pauses the upstream socket when the stream
 * runs out of credit). A reset from the gateway aborts the upstream request; an upstream failure
 * resets the stream with a code the gateway turns into 502/504. Writes the proxy's audit record.
 */
export async function serveStream(stream: MuxStream, head: RequestHead, deps: ServeStreamDeps): Promise<void> {
  // Child loggers cost a few microseconds each; only failures log, so build one on demand.
  const log = (): Logger => deps.logger.child({ [F.requestId]: head.rid, [F.server]: head.server, [F.stream]: stream.id });
  const audit = RequestAudit.proxy(
    { rid: head.rid, tunnel: deps.tunnelId, server: head.server, upstream: safeUpstream(head.url), httpMethod: head.method },
    { onFinish: (r) => deps.audit.write(r) },
  );
  const ac = new AbortController();
  let settled = false;
  const onGone = (): void => {
    if (!settled && !ac.signal.aborted) ac.abort();
  };
  stream.once('error', onGone);
  stream.once('close', onGone);

  // A small request usually arrives whole (HEADERS, DATA and END in one message): hand undici a
  // Buffer then, which skips its stream-body machinery. Otherwise stream it.
  let body: Readable | Buffer | null = null;
  let view: PassThrough | null = null;
  if (stream.remoteEnded) {
    const buffered = stream.readableLength > 0 ? (stream.read() as Buffer | null) : null;
    body = buffered && buffered.length > 0 ? buffered : null;
    stream.resume(); // let the readable side finish
  } else {
    // undici destroys a body stream once it has sent it; give it a view, not the Duplex that also
    // carries the response.
    const v = new PassThrough();
    view = v;
    stream.on('error', (err) => v.destroy(err));
    body = stream.pipe(v);
  }

  let response;
  try {
    response = await deps.dispatcher.request({
      rid: head.rid,
      server: head.server,
      url: head.url,
      method: head.method,
      headers: head.headers,
      body,
      signal: ac.signal,
    });
  } catch (err) {
    settled = true;
    const code = (err as { code?: string }).code;
    audit.addBytesIn(stream.bytesReceived);
    if (ac.signal.aborted || stream.destroyed) {
      audit.abort(code ?? 'TUNNEL_UPSTREAM_ABORTED');
      log().debug({ [F.code]: code }, 'request cancelled by the gateway before the upstream answered');
    } else {
      const egress = (err as { egress?: unknown }).egress;
      if (typeof egress === 'string') audit.annotate({ egress });
      audit.fail(code ?? 'TUNNEL_UPSTREAM_FAILED');
      log().warn({ [F.code]: code, [F.reason]: describeError(err), ...(typeof egress === 'string' ? { egress } : {}) }, 'upstream request failed');
      stream.resetWith(wireCodeFor(code), describeError(err));
    }
    audit.finish();
    return;
  }

  audit.setStatus(response.status);
  if (stream.destroyed) {
    settled = true;
    response.body.destroy();
    audit.abort('TUNNEL_UPSTREAM_ABORTED');
    audit.finish();
    return;
  }
  stream.respond({ status: response.status, headers: response.headers });
  await new Promise<void>((resolve) => {
    const src = response.body;
    src.once('error', (err) => {
      if (stream.destroyed) return resolve();
      audit.fail('TUNNEL_UPSTREAM_RESET');
      log().warn({ [F.code]: 'TUNNEL_UPSTREAM_RESET', [F.reason]: describeError(err) }, 'upstream response failed mid-body');
      stream.resetWith(ErrorCode.UPSTREAM_RESET, describeError(err));
      resolve();
    });
    stream.once('close', () => {
      if (!stream.writableFinished) {
        src.destroy();
        audit.abort('TUNNEL_CLIENT_GONE');
      }
      resolve();
    });
    stream.once('finish', () => {
      settled = true; // before 'close' (a nextTick away), so a finished request is not aborted
      resolve();
    });
    src.pipe(stream);
  });
  settled = true;
  if (!stream.destroyed && stream.writableFinished && !stream.remoteEnded) {
    // The upstream answered before reading the whole body (413 from Content-Length, an early error):
    // nobody reads the rest now, and unread bytes would keep their credit forever. Drop them until
    // the gateway's END_STREAM (it ends as soon as it sees the complete response), bounded.
    view?.destroy();
    const { discarded, outcome } = await discardIncoming(stream, deps.discardBudget);
    log().debug({ discarded, outcome }, 'upstream answered before reading the whole request body; rest discarded');
  }
  audit.addBytesIn(stream.bytesReceived).addBytesOut(stream.bytesSent);
  audit.finish();
}

function safeUpstream(url: string): string {
  try {
    return auditUpstream(url);
  } catch {
    return '(invalid url)';
  }
}
