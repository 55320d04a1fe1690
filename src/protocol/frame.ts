import { FrameType, Flag } from './codes';
import { ProtocolError } from './errors';

/** Size of the fixed frame header: type u8, flags u8, stream id u32, payload length u32. */
export const FRAME_HEADER_BYTES = 10;
/** Largest stream id (ids are unsigned 31-bit, like HTTP/2). */
export const MAX_STREAM_ID = 0x7fffffff;
/** Largest window increment / window size. */
export const MAX_WINDOW = 0x7fffffff;

export interface Frame {
  type: FrameType;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** Encodes one frame (header + payload) into a fresh buffer. */
export function encodeFrame(type: FrameType, flags: number, streamId: number, payload?: Buffer): Buffer {
  const len = payload ? payload.length : 0;
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + len);
  writeFrameHeader(out, 0, type, flags, streamId, len);
  if (payload && len > 0) payload.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** Writes a frame header at `offset` of `buf`. */
export function writeFrameHeader(
  buf: Buffer,
  offset: number,
  type: FrameType,
  flags: number,
  streamId: number,
  length: number,
): void {
  buf.writeUInt8(type, offset);
  buf.writeUInt8(flags, offset + 1);
  buf.writeUInt32BE(streamId >>> 0, offset + 2);
  buf.writeUInt32BE(length >>> 0, offset + 6);
}

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

/**
 * Splits one WebSocket message into its frames. A message holds one or more whole frames; a frame
 * never spans messages. Payloads are views into `message` (no copy).
 *
 * @throws ProtocolError on a truncated frame, an unknown type or a reserved stream id.
 */
export function decodeFrames(message: Buffer): Frame[] {
  const frames: Frame[] = [];
  let off = 0;
  if (message.length === 0) throw new ProtocolError('TUNNEL_PROTOCOL_EMPTY_MESSAGE', 'empty message');
  while (off < message.length) {
    if (message.length - off < FRAME_HEADER_BYTES) {
      throw new ProtocolError('TUNNEL_PROTOCOL_TRUNCATED', `truncated frame header at byte ${off}`);
    }
    const type = message.readUInt8(off);
    const flags = message.readUInt8(off + 1);
    const streamId = message.readUInt32BE(off + 2);
    const length = message.readUInt32BE(off + 6);
    off += FRAME_HEADER_BYTES;
    if (length > message.length - off) {
      throw new ProtocolError('TUNNEL_PROTOCOL_TRUNCATED', `frame payload of ${length} bytes exceeds message`);
    }
    if (!KNOWN_TYPES.has(type)) {
      throw new ProtocolError('TUNNEL_PROTOCOL_UNKNOWN_FRAME', `unknown frame type 0x${type.toString(16)}`);
    }
    if (streamId > MAX_STREAM_ID) {
      throw new ProtocolError('TUNNEL_PROTOCOL_BAD_STREAM', `stream id ${streamId} out of range`);
    }
    frames.push({ type: type as FrameType, flags, streamId, payload: message.subarray(off, off + length) });
    off += length;
  }
  return frames;
}

/** RST_STREAM / GOAWAY payloads. */
export function encodeCodeReason(code: number, reason: string, prefix?: number): Buffer {
  const text = Buffer.from(truncateUtf8(reason, 512), 'utf8');
  const head = prefix === undefined ? 4 : 8;
  const out = Buffer.allocUnsafe(head + text.length);
  if (prefix === undefined) {
    out.writeUInt32BE(code >>> 0, 0);
  } else {
    out.writeUInt32BE(prefix >>> 0, 0);
    out.writeUInt32BE(code >>> 0, 4);
  }
  text.copy(out, head);
  return out;
}

export function decodeRst(payload: Buffer): { code: number; reason: string } {
  if (payload.length < 4) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', 'RST_STREAM payload shorter than 4 bytes');
  return { code: payload.readUInt32BE(0), reason: payload.subarray(4).toString('utf8') };
}

export function decodeGoAway(payload: Buffer): { lastStreamId: number; code: number; reason: string } {
  if (payload.length < 8) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', 'GOAWAY payload shorter than 8 bytes');
  return {
    lastStreamId: payload.readUInt32BE(0),
    code: payload.readUInt32BE(4),
    reason: payload.subarray(8).toString('utf8'),
  };
}

export function encodeWindowUpdate(increment: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(increment >>> 0, 0);
  return out;
}

export function decodeWindowUpdate(payload: Buffer): number {
  if (payload.length !== 4) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', 'WINDOW_UPDATE payload must be 4 bytes');
  const inc = payload.readUInt32BE(0);
  if (inc === 0 || inc > MAX_WINDOW) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', `bad window increment ${inc}`);
  return inc;
}

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  return Buffer.from(s, 'utf8').subarray(0, maxBytes).toString('utf8').replace(/\uFFFD+$/, '');
}

export { Flag };
