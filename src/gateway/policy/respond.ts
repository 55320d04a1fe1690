import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { getHeader, toNodeHeaders, type HeaderList } from '../../http';
import { MAX_FILTERED_BYTES, ToolsFilterError, ToolsListSseFilter, filterToolsJsonBody } from './tools-filter';

/** Which responses to filter (the ids of the `tools/list` requests) and which tools may be shown. */
export interface ToolsListFilterSpec {
  /** Null: every response carrying `result.tools` (GET streams, where the request ids are not known). */
  ids: ReadonlySet<string | number> | null;
  allowed: (tool: string) => boolean;
}

/**
 * Sends the response of a `tools/list` request through the tools filter and writes it to `res`:
 *
 * - `text/event-stream`: head at once, events through {@link ToolsListSseFilter} one by one;
 * - `application/json` (or anything else that is not SSE): the body is buffered (at most
 *   `MAX_FILTERED_BYTES`), rewritten, and sent with a corrected `content-length`.
 *
 * A body that cannot be filtered (too large, compressed) fails closed: `stream` is destroyed with a
 * {@link ToolsFilterError}, which the caller's stream error handling turns into a cut connection.
 */
export function sendFilteredResponse(stream: Readable, res: ServerResponse, status: number, headers: HeaderList, spec: ToolsListFilterSpec): void {
  const type = getHeader(headers, 'content-type') ?? '';
  const encoding = (getHeader(headers, 'content-encoding') ?? 'identity').trim().toLowerCase();
  if (type.startsWith('text/event-stream')) {
    // Events are rewritten, so the upstream's length would be wrong: the client would wait for
    // bytes that never come (or cut the stream short). Node then frames the body itself.
    res.writeHead(status, toNodeHeaders(withoutLength(headers)));
    res.flushHeaders();
    if (encoding !== 'identity') {
      stream.destroy(new ToolsFilterError(`a ${encoding}-encoded tools/list response cannot be filtered`));
      return;
    }
    stream.pipe(toolsSseFilter(stream, spec)).pipe(res);
    return;
  }
  if (encoding !== 'identity') {
    stream.destroy(new ToolsFilterError(`a ${encoding}-encoded tools/list response cannot be filtered`));
    return;
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  const onData = (chunk: Buffer): void => {
    bytes += chunk.length;
    if (bytes > MAX_FILTERED_BYTES) {
      stream.off('data', onData);
      stream.destroy(new ToolsFilterError(`a tools/list response of more than ${MAX_FILTERED_BYTES} bytes cannot be filtered`));
      return;
    }
    chunks.push(chunk);
  };
  stream.on('data', onData);
  stream.once('end', () => {
    const body = filterToolsJsonBody(Buffer.concat(chunks, bytes), spec.ids, spec.allowed);
    const out = withoutLength(headers);
    out.push(['content-length', String(body.length)]);
    if (res.destroyed) return;
    res.writeHead(status, toNodeHeaders(out));
    res.end(body);
  });
}

/** The SSE tools filter for `spec`; a filter failure destroys `source` (fail closed). */
export function toolsSseFilter(source: Readable, spec: ToolsListFilterSpec): ToolsListSseFilter {
  const filter = new ToolsListSseFilter(spec.ids, spec.allowed);
  filter.once('error', (err) => source.destroy(err));
  return filter;
}

/** `headers` without `Content-Length` (and `Transfer-Encoding`), for a body the gateway rewrites. */
export function withoutLength(headers: HeaderList): HeaderList {
  return headers.filter(([k]) => k.toLowerCase() !== 'content-length' && k.toLowerCase() !== 'transfer-encoding');
}
