import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import type { GatewayAuditRecord, RequestAudit } from '../../audit';
import type { BodyDigest } from './digest';
import type { BodyLimit } from './limit';
import type { RequestBody } from './read';

export interface BodyPump {
  req: IncomingMessage;
  /** The tunnel stream the body goes into. */
  stream: Writable;
  body: Exclude<RequestBody, { kind: 'none' }>;
  /** The request's body limit (the bytes read for inspection are already counted). */
  limit: BodyLimit;
  /** The request direction's digest: sees exactly the bytes forwarded. */
  digest: BodyDigest;
  audit: RequestAudit<GatewayAuditRecord>;
  /** Called once when a streamed body exceeds the limit (the stream is not written to again). */
  onTooLarge: () => void;
}

/**
 * Sends a request body into the tunnel through its digest: `requestSha256` and the optional body
 * capture cover the whole body. (`bytesIn` is the stream's `bytesSent`, taken once the tunnel
 * stream closed: exactly what crossed the tunnel, as the proxy's record counts it.)
 *
 * A `whole` body is written as the one buffer that was checked. A `prefix` is written first, then
 * the rest of the request is piped after it with end-to-end backpressure; a chunk that takes the
 * body past the limit is never forwarded.
 */
export function pumpRequestBody(p: BodyPump): void {
  const { req, stream, limit, digest } = p;
  digest.update(p.body.bytes);
  const record = (): void => digest.record(p.audit, req.headers['content-type']);
  if (p.body.kind === 'whole') {
    record();
    stream.end(p.body.bytes);
    return;
  }
  stream.write(p.body.bytes);
  // Registered before pipe(), so an oversized chunk is caught before it is forwarded.
  req.on('data', (chunk: Buffer) => {
    if (limit.exceeded) return;
    if (!limit.take(chunk.length)) {
      req.unpipe(stream);
      p.onTooLarge();
      return;
    }
    digest.update(chunk);
  });
  req.once('end', () => {
    if (!limit.exceeded) record();
  });
  req.once('error', () => stream.destroy());
  req.pipe(stream);
}
