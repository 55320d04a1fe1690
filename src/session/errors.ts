import { TunnelError } from '../errors';

/**
 * The handshake failed. `permanent` failures (wrong secret, unknown tunnel, no common version)
 * cannot succeed by retrying with the same configuration; the proxy backs off to its long interval.
 */
export class HandshakeError extends TunnelError {
  readonly permanent: boolean;
  /** WebSocket close code sent or received. */
  readonly closeCode: number;
  constructor(code: string, message: string, opts: { closeCode: number; permanent: boolean; cause?: unknown }) {
    super(code, message, { retryable: !opts.permanent, cause: opts.cause });
    this.name = 'HandshakeError';
    this.permanent = opts.permanent;
    this.closeCode = opts.closeCode;
  }
}
