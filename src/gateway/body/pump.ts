import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Writable } from 'node:stream';
import { BodyCapture, type BodyCaptureConfig, type GatewayAuditRecord, type RequestAudit } from '../../audit';
import type { RequestBody } from './read';

export interface BodyPump {
  req: IncomingMessage;
  /** The tunnel stream the body goes into. */
  stream: Writable;
  body: Exclude<RequestBody, { kind: 'none' }>;
  /** `limits.maxRequestBodyBytes`: a streamed body that grows past it is cut. */
  maxBytes: number;
  audit: RequestAudit<GatewayAuditRecord>;
  auditBodies: BodyCaptureConfig | null | undefined;
  /** Called once when a streamed body exceeds `maxBytes` (the stream is not written to again). */
  onTooLarge: () => void;
}

/**
 * Sends a request body into the tunnel and audits it: `requestSha256` and the optional body capture
 * cover the whole body. (`bytesIn` is the stream's `bytesSent`, taken by the caller once the tunnel
 * stream closed: exactly what crossed the tunnel, as the proxy's record counts it.)
 *
 * A `whole` body is written as the one buffer that was checked. A `prefix` is written first, then
 * the rest of the request is piped after it with end-to-end backpressure; a chunk that takes the
 * body past `maxBytes` is never forwarded.
 */
export function pumpRequestBody(p: BodyPump): void {
  const { req, stream, audit } = p;
  const hash = createHash('sha256').update(p.body.bytes);
  const capture = p.auditBodies ? new BodyCapture(p.auditBodies) : null;
  capture?.push(p.body.bytes);
  const recordBody = (): void => {
    audit.annotate({ requestSha256: hash.digest('hex') });
    if (capture) audit.annotate({ requestBody: capture.result(req.headers['content-type']) });
  };
  if (p.body.kind === 'whole') {
    recordBody();
    stream.end(p.body.bytes);
    return;
  }
  stream.write(p.body.bytes);
  let bytes = p.body.bytes.length;
  let tooLarge = false;
  // Registered before pipe(), so an oversized chunk is caught before it is forwarded.
  req.on('data', (chunk: Buffer) => {
    if (tooLarge) return;
    bytes += chunk.length;
    if (bytes > p.maxBytes) {
      tooLarge = true;
      req.unpipe(stream);
      p.onTooLarge();
      return;
    }
    hash.update(chunk);
    capture?.push(chunk);
  });
  req.once('end', () => {
    if (!tooLarge) recordBody();
  });
  req.once('error', () => stream.destroy());
  req.pipe(stream);
}
