import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors';
import { subjectKey, type PolicySubject } from './engine';
import type { ClientLimiter } from './limiter';

/** Default of `limits.maxOpenStreamsPerClient` (one identity holding 1,000 SSE streams is normal load). */
export const DEFAULT_MAX_OPEN_STREAMS_PER_CLIENT = 10_000;

/**
 * The limiter key of a subject's open streams. Starts with a NUL, which no policy rule name can,
 * so it never shares a counter with a rule's `maxConcurrent` (keys `<rule>\0<subject>`).
 */
function streamKey(subject: PolicySubject): string {
  return `\0open-streams\0${subjectKey(subject)}`;
}

/**
 * Counts a long-lived stream against its client identity (`limits.maxOpenStreamsPerClient`),
 * across all servers: every GET to an MCP endpoint (a standalone Streamable HTTP stream or a legacy
 * HTTP+SSE stream) holds a slot until its response closes. POSTs are not counted here: they end
 * with their request, and `maxConcurrent` policy rules bound them.
 *
 * @returns null when admitted (the slot is released when `res` closes), else the 429
 *   `TUNNEL_TOO_MANY_STREAMS` error to answer, with `Retry-After`.
 */
export function admitStream(
  req: IncomingMessage,
  res: ServerResponse,
  subject: PolicySubject,
  max: number | undefined,
  limiter: ClientLimiter,
): GatewayError | null {
  if (req.method !== 'GET') return null;
  const limit = max ?? DEFAULT_MAX_OPEN_STREAMS_PER_CLIENT;
  const slot = limiter.acquire(streamKey(subject), limit);
  if (slot === null) {
    return new GatewayError(
      'TUNNEL_TOO_MANY_STREAMS',
      `client "${subject.name}" holds ${limit} open stream(s) (GET), the most limits.maxOpenStreamsPerClient allows; close one first`,
    );
  }
  res.once('close', () => slot.release());
  return null;
}
