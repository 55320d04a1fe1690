/**
 * The gateway's recording tap (docs/replay.md, issue 12). It records where the gateway forwards: the
 * request head and the exact body bytes that went into the tunnel stream, and the response head and
 * body bytes the client got (after the legacy endpoint rewrite and the tools filter), then how the
 * exchange ended. The exchange id is the tunnel's `rid`.
 *
 * Hooked by one line in ./forward.ts. With no recorder, or one that does not record this server
 * (`record.servers`), it returns at once: an unrecorded request pays one comparison, no closure per
 * chunk. With one, every observation runs after the bytes were handed on, and the recorder only
 * copies into its bounded queue (it never blocks or throws).
 */
import { describeError } from '../errors';
import type { MuxStream } from '../mux';
// By file, not through '../replay': the replay package (serve, run, HAR, …) stays unloaded (D77).
import { CLIENT_GONE_REASON } from '../replay/format';
import type { Recorder } from '../replay/recorder';
import { observeHead, observeWrites } from '../replay/observe';
import type { RequestContext } from './request/context';

/** Starts recording one exchange of `ctx` on its open tunnel `stream`; a no-op without a recorder. */
export function recordGatewayExchange(recorder: Recorder | undefined, ctx: RequestContext, stream: MuxStream): void {
  if (recorder === undefined || !recorder.records(ctx.route.server)) return;
  const { req, res } = ctx;
  const sid = req.headers['mcp-session-id'];
  const tap = recorder.exchange({ id: ctx.rid, server: ctx.route.server, session: typeof sid === 'string' ? sid : null });
  // The head that went into the tunnel (the one reading of the request), at the path the client used.
  tap.requestHead({ method: req.method ?? 'GET', path: req.url ?? '/', headers: stream.requestHead?.headers ?? req.rawHeaders });
  observeWrites(stream, (c) => tap.requestChunk(c));
  observeHead(res, (status, headers) => tap.responseHead({ status, headers }));
  observeWrites(res, (c) => tap.responseChunk(c));
  let failure: string | undefined;
  stream.once('error', (err: unknown) => (failure = describeError(err)));
  res.once('finish', () => tap.end());
  res.once('close', () => res.writableFinished || tap.reset(failure ?? CLIENT_GONE_REASON));
}
