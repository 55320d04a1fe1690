/**
 * The proxy's recording tap (docs/replay.md, issue 12): what the proxy sent upstream (the request
 * head handed to the dispatcher, the body bytes undici read) and what it got back (the response head
 * and body bytes it wrote into the tunnel stream), then how the exchange ended. The exchange id is
 * the tunnel's `rid`; paths are the upstream's.
 *
 * Hooked by small lines in ./serve-stream.ts. Without a recorder, or one that does not record this
 * server, it returns undefined at once: an unrecorded request pays one comparison. Observations run
 * after the bytes were handed on.
 */
import type { PassThrough } from 'node:stream';
import type { ProxyConfig } from '../config/types';
import type { UpstreamResponse } from '../dispatch';
import { describeError } from '../errors';
import type { MuxStream } from '../mux';
import type { RequestHead } from '../protocol';
import type { Logger } from '../log';
// By file, not through '../replay': the replay package (serve, run, HAR, …) stays unloaded (D77).
import { CLIENT_GONE_REASON } from '../replay/format';
import { openConfiguredRecorder } from '../replay/open';
import type { ExchangeTap, Recorder } from '../replay/recorder';
import { observeWrites } from '../replay/observe';

/** The two later points of a recorded exchange. */
export interface ProxyTap {
  /** The dispatcher failed before a response head. */
  failed(err: unknown): void;
  /** The response head went into the stream: record it and observe the body and the end. */
  responded(response: UpstreamResponse): void;
}

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** Starts recording one served request; undefined (nothing to call later) without a recorder. */
export function recordProxyExchange(
  recorder: Recorder | undefined,
  stream: MuxStream,
  head: RequestHead,
  body: { body: unknown; view: PassThrough | null },
): ProxyTap | undefined {
  if (recorder === undefined || !recorder.records(head.server)) return undefined;
  const sid = head.headers.find(([n]) => n.toLowerCase() === 'mcp-session-id')?.[1];
  const tap: ExchangeTap = recorder.exchange({ id: head.rid, server: head.server, session: sid ?? null });
  tap.requestHead({ method: head.method, path: pathOf(head.url), headers: head.headers });
  if (body.body instanceof Uint8Array) tap.requestChunk(body.body);
  else if (body.view !== null) observeWrites(body.view, (c) => tap.requestChunk(c));
  return {
    failed: (err) => tap.reset(describeError(err)),
    responded: (response) => {
      tap.responseHead({ status: response.status, headers: response.headers });
      observeWrites(stream, (c) => tap.responseChunk(c));
      let failure: string | undefined;
      response.body.once('error', (err) => (failure = describeError(err)));
      stream.once('finish', () => tap.end());
      stream.once('close', () => stream.writableFinished || tap.reset(failure ?? CLIENT_GONE_REASON));
    },
  };
}

/**
 * Opens the recorder `config.record` asks for, unless one was given in the proxy's deps: a promise
 * (resolving undefined when the file cannot be opened; never rejects), or undefined when there is
 * nothing to open, so an unrecorded proxy dials without waiting on anything.
 */
export function proxyRecorder(given: Recorder | undefined, config: ProxyConfig, logger: Logger): Promise<Recorder | undefined> | undefined {
  if (given !== undefined || !config.record) return undefined;
  return openConfiguredRecorder(config.record, 'proxy', logger);
}
