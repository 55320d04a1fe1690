import type { IncomingMessage } from 'node:http';

/**
 * A request body as the gateway holds it before forwarding:
 * - `none`: the request has no body;
 * - `whole`: read completely (within the inspection bound): forward exactly these bytes;
 * - `prefix`: the first bytes (just over the bound); the rest is still unread in the paused request
 *   and streams through after them.
 */
export type RequestBody = { kind: 'none' } | { kind: 'whole'; bytes: Buffer } | { kind: 'prefix'; bytes: Buffer };

export const NO_BODY: RequestBody = Object.freeze({ kind: 'none' });

/**
 * Reads `req`'s body up to `limit` bytes. Resolves `whole` when it ended within the limit, else
 * `prefix` with every chunk read so far (more than `limit` bytes) and the request paused, or
 * `'aborted'` when the client went away first. Never rejects.
 */
export function readBodyUpTo(req: IncomingMessage, limit: number): Promise<RequestBody | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const finish = (r: RequestBody | 'aborted'): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onClose);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      chunks.push(chunk);
      if (bytes > limit) {
        req.pause();
        finish({ kind: 'prefix', bytes: Buffer.concat(chunks, bytes) });
      }
    };
    const onEnd = (): void => finish({ kind: 'whole', bytes: Buffer.concat(chunks, bytes) });
    const onAbort = (): void => finish('aborted');
    const onClose = (): void => {
      if (!req.complete) finish('aborted');
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onAbort);
    req.once('close', onClose);
  });
}
