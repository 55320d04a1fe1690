import { TunnelError } from '../errors';

/** Dialing the gateway failed before the WebSocket opened. */
export class DialError extends TunnelError {
  readonly permanent: boolean;
  readonly status: number | null;
  /** The gateway's `Retry-After` (429/503 at the upgrade), in ms; null when absent. */
  readonly retryAfterMs: number | null;
  constructor(code: string, message: string, opts: { permanent: boolean; status?: number; cause?: unknown; retryAfterMs?: number }) {
    super(code, message, { retryable: !opts.permanent, cause: opts.cause });
    this.name = 'DialError';
    this.permanent = opts.permanent;
    this.status = opts.status ?? null;
    this.retryAfterMs = opts.retryAfterMs ?? null;
  }
}
