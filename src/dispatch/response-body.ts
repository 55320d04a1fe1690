import { PassThrough, type Readable } from 'node:stream';
import { fromNodeRawHeaders, type HeaderList } from '../http/headers';
import type { UpstreamError } from './errors';

/**
 * Relays an undici response body into the stream handed to the caller, so that its errors carry our
 * stable codes. Backpressure is kept (`pipe`), and destroying the returned stream destroys `source`,
 * which makes undici abort the request and close the connection.
 */
export function relayBody(source: Readable, mapError: (err: unknown) => UpstreamError): Readable {
  const out = new PassThrough();
  source.on('error', (err: unknown) => {
    if (!out.destroyed) out.destroy(mapError(err));
  });
  out.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

/**
 * With `responseHeaders: 'raw'` undici hands over the raw `[name, value, …]` array (wire order, every
 * repeat); its typings still say "object", so accept both shapes.
 */
export function responseHeaderList(headers: unknown): HeaderList {
  if (Array.isArray(headers)) return fromNodeRawHeaders(headers.map(String));
  const list: HeaderList = [];
  if (typeof headers === 'object' && headers !== null) {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      const values: unknown[] = Array.isArray(value) ? value : [value];
      for (const v of values) if (typeof v === 'string') list.push([name.toLowerCase(), v]);
    }
  }
  return list;
}
