import type { Readable } from 'node:stream';
import { RequestAudit, auditUpstream, type AuditTrail, type ProxyAuditRecord } from '../audit';
import { describeError } from '../errors';
import { Cancellation, type UpstreamDispatcher, type UpstreamResponse } from '../dispatch';
import { F, type Logger } from '../log';
import type { DiscardBudget, MuxStream } from '../mux';
import { ErrorCode, type RequestHead } from '../protocol';
import type { Recorder } from '../replay';
import { recordProxyExchange } from './record-tap';
import { discardUnreadBody, requestBodyOf, requestBodyUnread } from './request-body';

export interface ServeStreamDeps {
  dispatcher: UpstreamDispatcher;
  tunnelId: string;
  audit: AuditTrail;
  logger: Logger;
  /** Bounds on discarding a request body the upstream did not read (default DEFAULT_DISCARD_BUDGET). */
  discardBudget?: DiscardBudget;
  /** Records what is sent upstream and what comes back (docs/replay.md); absent = not recording. */
  recorder?: Recorder;
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
 * Aborts the upstream request when the tunnel stream goes away (gateway reset, stream closed) before
 * the exchange settled. Once settled, the stream's ordinary close aborts nothing.
 */
class CancelWhenStreamGone {
  private readonly ac = new Cancellation();
  private settled = false;

  constructor(stream: MuxStream) {
    const onGone = (): void => {
      if (!this.settled && !this.ac.aborted) this.ac.abort();
    };
    stream.once('error', onGone);
    stream.once('close', onGone);
  }

  /** The upstream request's signal. */
  get signal(): Cancellation {
    return this.ac;
  }

  settle(): void {
    this.settled = true;
  }
}

/** What the steps of one served request share. */
interface Served {
  stream: MuxStream;
  audit: RequestAudit<ProxyAuditRecord>;
  /** Child loggers cost a few microseconds each; only failures log, so one is built on demand. */
  log: () => Logger;
}

/**
 * Serves one tunnelled request: call the upstream with undici, send the response head, then pump
 * the body into the stream with backpressure (`pipe` pauses the upstream socket when the stream
 * runs out of credit). A reset from the gateway aborts the upstream request; an upstream failure
 * resets the stream with a code the gateway turns into 502/504. Writes the proxy's audit record.
 */
export async function serveStream(stream: MuxStream, head: RequestHead, deps: ServeStreamDeps): Promise<void> {
  const served: Served = {
    stream,
    audit: RequestAudit.proxy(
      { rid: head.rid, tunnel: deps.tunnelId, server: head.server, upstream: safeUpstream(head.url), httpMethod: head.method },
      deps.audit.hooks,
    ),
    log: () => deps.logger.child({ [F.requestId]: head.rid, [F.server]: head.server, [F.stream]: stream.id }),
  };
  const cancel = new CancelWhenStreamGone(stream);
  const { body, view } = requestBodyOf(stream);
  const tap = recordProxyExchange(deps.recorder, stream, head, { body, view });
  let response: UpstreamResponse;
  try {
    const { rid, server, url, method, headers } = head;
    response = await deps.dispatcher.request({ rid, server, url, method, headers, body, signal: cancel.signal });
  } catch (err) {
    cancel.settle();
    tap?.failed(err);
    failBeforeHead(served, err, cancel.signal.aborted);
    return;
  }
  const { audit } = served;
  audit.setStatus(response.status);
  if (stream.destroyed) {
    cancel.settle();
    response.body.destroy();
    audit.abort('TUNNEL_UPSTREAM_ABORTED');
    audit.finish();
    return;
  }
  stream.respond({ status: response.status, headers: response.headers });
  tap?.responded(response);
  await pumpResponseBody(served, response.body, () => cancel.settle());
  cancel.settle();
  if (requestBodyUnread(stream)) await discardUnreadBody(stream, view, deps.discardBudget, served.log);
  audit.addBytesIn(stream.bytesReceived).addBytesOut(stream.bytesSent);
  audit.finish();
}

/**
 * The dispatcher failed before a response head: a cancellation by the gateway is only audited; any
 * other failure is audited, logged, and resets the stream with its wire code.
 */
function failBeforeHead({ stream, audit, log }: Served, err: unknown, cancelled: boolean): void {
  const code = (err as { code?: string }).code;
  audit.addBytesIn(stream.bytesReceived);
  if (cancelled || stream.destroyed) {
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
}

/**
 * Pipes the response body into the stream; resolves when the stream finished, closed, or was reset
 * because the body failed mid-way. A stream closed before it finished destroys the body (the
 * upstream request is aborted) and is audited as the client gone. `onFinish` runs on 'finish', before
 * the 'close' a tick later, so a finished request is not aborted.
 */
function pumpResponseBody({ stream, audit, log }: Served, src: Readable, onFinish: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
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
      onFinish();
      resolve();
    });
    src.pipe(stream);
  });
}

function safeUpstream(url: string): string {
  try {
    return auditUpstream(url);
  } catch {
    return '(invalid url)';
  }
}
