import { TunnelError } from '../errors';

/** Dialing the gateway failed before the WebSocket opened. */
export class DialError extends TunnelError {
  readonly permanent: boolean;
  readonly status: number | null;
  constructor(code: string, message: string, opts: { permanent: boolean; status?: number; cause?: unknown }) {
    super(code, message, { retryable: !opts.permanent, cause: opts.cause });
    this.name = 'DialError';
    this.permanent = opts.permanent;
    this.status = opts.status ?? null;
  }
}
