import { FrameType, ProtocolError, TooLargeError, decodeFrames, encodeFrame, encodeJson, parseControl, type ControlMessage } from '../protocol';

/** Encodes one CONTROL message as a whole WebSocket message (handshake messages travel alone). */
export function controlMessage(message: ControlMessage): Buffer {
  return encodeFrame(FrameType.CONTROL, 0, 0, encodeJson(message));
}

/**
 * Decodes a handshake message: exactly one CONTROL frame on stream 0.
 * @throws ProtocolError otherwise.
 */
export function parseHandshakeMessage(message: Buffer, limit: number): ControlMessage {
  if (message.length > limit + 64) {
    throw new TooLargeError(`handshake message of ${message.length} bytes exceeds ${limit}`);
  }
  const frames = decodeFrames(message);
  const f = frames[0];
  if (frames.length !== 1 || !f || f.type !== FrameType.CONTROL || f.streamId !== 0) {
    throw new ProtocolError('TUNNEL_PROTOCOL_BAD_HANDSHAKE', 'expected a single CONTROL frame during the handshake');
  }
  return parseControl(f.payload, limit);
}
