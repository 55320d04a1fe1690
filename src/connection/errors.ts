import { TunnelError } from '../errors';

/** Dialing the gateway failed before the WebSocket opened. */
export class DialError extends TunnelError {
  readonly permanent: boolean;
  readonly status: number | null;
  /** The gateway's `Retry-After` (429/503 at the upgrade), in ms; null when absent. */
  readonly retryAfterMs: number | null;
  /** What the operator can do about it (hints.ts), logged as `hint`; null when nothing specific. */
  readonly hint: string | null;
  constructor(code: string, message: string, opts: { permanent: boolean; status?: number; cause?: unknown; retryAfterMs?: number; hint?: string | null }) {
    super(code, message, { retryable: !opts.permanent, cause: opts.cause });
    this.name = 'DialError';
    this.permanent = opts.permanent;
    this.status = opts.status ?? null;
    this.retryAfterMs = opts.retryAfterMs ?? null;
    this.hint = opts.hint ?? null;
  }
}

/**
 * The gateway closed an authenticated connection with 4401: its secret was revoked and the proxy
 * did not re-authenticate with a current one in time. Permanent until the secret changes.
 */
export class AuthRevokedError extends TunnelError {
  readonly closeCode: number;
  constructor(closeCode: number, reason: string) {
    super('TUNNEL_AUTH_FAILED', `gateway ended the authenticated connection (${closeCode}${reason ? `: ${reason}` : ''}); the tunnel secret is no longer accepted`, {
      retryable: false,
    });
    this.name = 'AuthRevokedError';
    this.closeCode = closeCode;
  }
}
