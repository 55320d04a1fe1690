import { TunnelError } from '../errors';
import { errorCodeName } from '../protocol';

/** The peer reset a stream (RST_STREAM); `wireCode` is the protocol's ErrorCode. */
export class StreamResetError extends TunnelError {
  readonly wireCode: number;
  constructor(wireCode: number, reason: string) {
    super('TUNNEL_STREAM_RESET', `stream reset by peer: ${errorCodeName(wireCode)}${reason ? ` (${reason})` : ''}`, {
      retryable: false,
    });
    this.name = 'StreamResetError';
    this.wireCode = wireCode;
  }
}

/** The tunnel connection closed while the stream was open. */
export class ConnectionClosedError extends TunnelError {
  readonly closeCode: number;
  constructor(closeCode: number, reason: string) {
    super('TUNNEL_CONNECTION_CLOSED', `tunnel connection closed (${closeCode}${reason ? `: ${reason}` : ''})`, {
      retryable: true,
    });
    this.name = 'ConnectionClosedError';
    this.closeCode = closeCode;
  }
}

/** A stream could not be opened (connection draining, closed, or at its stream limit). */
export class StreamRefusedError extends TunnelError {
  constructor(message: string) {
    super('TUNNEL_STREAM_REFUSED', message, { retryable: true });
    this.name = 'StreamRefusedError';
  }
}
