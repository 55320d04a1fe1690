import { TunnelError } from '../errors';

/**
 * An error the gateway answers to an MCP client with an HTTP status and a JSON body naming the
 * server and the reason. See docs/errors.md for every code.
 */
export class GatewayError extends TunnelError {
  readonly status: number;
  /** Seconds for `Retry-After` (503/429). */
  readonly retryAfter: number | null;
  constructor(code: string, status: number, message: string, opts: { retryAfter?: number; cause?: unknown } = {}) {
    super(code, message, { retryable: status === 503 || status === 502 || status === 504, cause: opts.cause });
    this.name = 'GatewayError';
    this.status = status;
    this.retryAfter = opts.retryAfter ?? (status === 503 ? 5 : null);
  }
}
