import { TunnelError } from '../errors';

/**
 * A peer sent something the protocol does not allow. Local errors; the peer learns of them only
 * through a close code, RST_STREAM or GOAWAY.
 */
export class ProtocolError extends TunnelError {
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: false });
    this.name = 'ProtocolError';
  }
}
