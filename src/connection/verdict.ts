import { TunnelError, describeError } from '../errors';
import { ConnectionClosedError } from '../mux';
import { CloseCode, PERMANENT_CLOSE_CODES } from '../protocol';
import { HandshakeError } from '../session';
import { DEFAULT_PERMANENT_MAX_MS } from './backoff';
import { AuthRevokedError, DialError } from './errors';
import { hintFor } from './hints';

/** Longest `Retry-After` honoured (a gateway cannot park a proxy for longer than a permanent failure does). */
export const MAX_RETRY_AFTER_MS = DEFAULT_PERMANENT_MAX_MS;

/** What the reconnect loop makes of the error that ended one connection attempt or connection. */
export interface ReconnectVerdict {
  /** The error, as a TunnelError (anything else is wrapped with code `TUNNEL_ERROR`). */
  error: TunnelError;
  /** Retrying with the same secret cannot succeed: back off to the long interval, or wait for a new secret. */
  permanent: boolean;
  /** The gateway's `Retry-After` (capped at {@link MAX_RETRY_AFTER_MS}); 0 when it sent none. */
  retryAfterMs: number;
  /** The gateway closed with 4000 (restarting or draining): expected, logged at info, not warn. */
  gatewayGoingAway: boolean;
  /** What the operator can do about it (hints.ts), logged as `hint`; null when nothing specific. */
  hint: string | null;
}

/**
 * The one place that decides whether a connection failure is permanent (cloudflared's `ServeTunnel`
 * returns `err, recoverable` from one type switch the same way). Each error class carries its own
 * facts, set where it was raised: a refused upgrade its HTTP status and Retry-After, a failed
 * handshake its close code and permanence, a closed connection its close code and who closed it.
 */
export function reconnectVerdict(err: unknown): ReconnectVerdict {
  const verdict = classify(err);
  return { ...verdict, hint: hintFor(verdict.error) };
}

function classify(err: unknown): Omit<ReconnectVerdict, 'hint'> {
  const base = { retryAfterMs: 0, gatewayGoingAway: false };
  if (err instanceof DialError) {
    const retryAfterMs = err.retryAfterMs !== null && err.retryAfterMs > 0 ? Math.min(err.retryAfterMs, MAX_RETRY_AFTER_MS) : 0;
    return { ...base, error: err, permanent: err.permanent, retryAfterMs };
  }
  if (err instanceof HandshakeError) {
    // A close the gateway sent during the handshake is remote; our own handshake closes never use 4000.
    return { ...base, error: err, permanent: err.permanent, gatewayGoingAway: err.closeCode === CloseCode.GOING_AWAY };
  }
  if (err instanceof AuthRevokedError) return { ...base, error: err, permanent: true };
  if (err instanceof ConnectionClosedError) {
    return { ...base, error: err, permanent: PERMANENT_CLOSE_CODES.has(err.closeCode), gatewayGoingAway: err.closeCode === CloseCode.GOING_AWAY && !err.local };
  }
  if (err instanceof TunnelError) return { ...base, error: err, permanent: false };
  return { ...base, error: new TunnelError('TUNNEL_ERROR', describeError(err), { cause: err }), permanent: false };
}
