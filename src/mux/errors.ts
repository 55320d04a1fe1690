import { TunnelError } from '../errors';
import { ErrorCode, errorCodeName } from '../protocol';

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

/**
 * The tunnel connection closed (while a stream was open, or under a served connection). Carries the
 * close code and who closed it, set where the close is seen; the reconnect verdict reads them.
 */
export class ConnectionClosedError extends TunnelError {
  readonly closeCode: number;
  /** True when this side closed the connection. */
  readonly local: boolean;
  constructor(closeCode: number, reason: string, local = false) {
    super('TUNNEL_CONNECTION_CLOSED', `tunnel connection closed (${closeCode}${reason ? `: ${reason}` : ''})`, {
      retryable: true,
    });
    this.name = 'ConnectionClosedError';
    this.closeCode = closeCode;
    this.local = local;
  }
}

/** A stream could not be opened (connection draining, closed, or at its stream limit). */
export class StreamRefusedError extends TunnelError {
  constructor(message: string) {
    super('TUNNEL_STREAM_REFUSED', message, { retryable: true });
    this.name = 'StreamRefusedError';
  }
}

/**
 * The peer's response head cannot be used: malformed, over `maxHeaderBytes`, a status outside
 * 200-599, or a header Node's HTTP layer would refuse. The stream was reset (PROTOCOL_ERROR); the
 * gateway answers 502. `header` names the offending header when there is one (never its value).
 */
export class BadResponseHeadError extends TunnelError {
  readonly wireCode: number = ErrorCode.PROTOCOL_ERROR;
  constructor(
    message: string,
    readonly header: string | null,
  ) {
    super('TUNNEL_BAD_RESPONSE_HEAD', message, { retryable: false });
    this.name = 'BadResponseHeadError';
  }
}

/**
 * The peer broke the protocol on one stream (DATA after END_STREAM, a second HEADERS, a window
 * overrun or overflow); this side reset the stream with `wireCode`. The connection stays up.
 */
export class StreamProtocolError extends TunnelError {
  constructor(
    readonly wireCode: number,
    reason: string,
  ) {
    super('TUNNEL_STREAM_PROTOCOL', `stream reset: ${reason}`, { retryable: false });
    this.name = 'StreamProtocolError';
  }
}
