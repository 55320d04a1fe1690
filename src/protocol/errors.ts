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

/** A head (request or response) carries a header Node's HTTP layer would refuse; `header` names it (never the value). */
export class HeaderProtocolError extends ProtocolError {
  constructor(
    message: string,
    readonly header: string,
  ) {
    super('TUNNEL_PROTOCOL_BAD_MESSAGE', message);
    this.name = 'HeaderProtocolError';
  }
}
