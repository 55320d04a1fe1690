import { TunnelError } from '../errors';
import { CloseCode, ErrorCode } from './codes';

/**
 * A peer sent something the protocol does not allow. Local errors; the peer learns of them only
 * through a close code, RST_STREAM or GOAWAY - and which one is fixed here, where the error is raised
 * (as `ws` attaches its status code at the throw): `closeCode` when it ends the connection, `wireCode`
 * when it only refuses or resets one stream. Nobody re-derives them later from the code string.
 */
export class ProtocolError extends TunnelError {
  /** WebSocket close code when this error ends the connection. */
  readonly closeCode: number;
  /** RST_STREAM code when this error only refuses one stream. */
  readonly wireCode: number;
  constructor(code: string, message: string, options: { cause?: unknown; closeCode?: number; wireCode?: number } = {}) {
    super(code, message, { cause: options.cause, retryable: false });
    this.name = 'ProtocolError';
    this.closeCode = options.closeCode ?? CloseCode.PROTOCOL_ERROR;
    this.wireCode = options.wireCode ?? ErrorCode.PROTOCOL_ERROR;
  }
}

/** A message, head or frame exceeds the receiver's limit: `TUNNEL_PROTOCOL_TOO_LARGE`, close 4413, RST FRAME_TOO_LARGE. */
export class TooLargeError extends ProtocolError {
  constructor(message: string) {
    super('TUNNEL_PROTOCOL_TOO_LARGE', message, { closeCode: CloseCode.TOO_LARGE, wireCode: ErrorCode.FRAME_TOO_LARGE });
    this.name = 'TooLargeError';
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

/**
 * The close code for a failure while reading the peer's bytes: the one the {@link ProtocolError}
 * carries, else PROTOCOL_ERROR (a parser that threw something else still saw bytes it cannot use).
 */
export function closeCodeOf(err: unknown): number {
  return err instanceof ProtocolError ? err.closeCode : CloseCode.PROTOCOL_ERROR;
}

/** The RST_STREAM code for a failure reading one stream's head: the error's own, else PROTOCOL_ERROR. */
export function wireCodeOf(err: unknown): number {
  return err instanceof ProtocolError ? err.wireCode : ErrorCode.PROTOCOL_ERROR;
}
