import type WebSocket from 'ws';
import type { FrameTransport, TransportHandler } from '../mux';
import { gatherWriter } from './ws-gather';

/**
 * Adapts a `ws` WebSocket. Text messages are a protocol violation and close the connection.
 * `zeroMask`: the (client) socket was opened with an all-zero mask, so messages can be written
 * gathered (ws-gather.ts); a server socket always can.
 */
export function wsTransport(ws: WebSocket, remoteAddress: string, options: { zeroMask?: boolean } = {}): FrameTransport {
  let handler: TransportHandler | null = null;
  let closed = false;
  const gather = gatherWriter(ws, options.zeroMask === true);
  ws.binaryType = 'nodebuffer';
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (closed) return;
    if (!isBinary) {
      ws.close(4400, 'text messages are not allowed');
      return;
    }
    handler?.onMessage(data);
  });
  ws.on('close', (code: number, reason: Buffer) => {
    if (closed) return;
    closed = true;
    handler?.onClose(code, reason.toString('utf8'));
  });
  // 'error' is always followed by 'close'; without a listener it would crash the process.
  ws.on('error', () => undefined);
  return {
    send(message) {
      if (!closed && ws.readyState === ws.OPEN) ws.send(message, { binary: true });
    },
    sendParts(parts, length) {
      if (closed || ws.readyState !== ws.OPEN) return;
      if (gather?.(parts, length) !== true) ws.send(Buffer.concat(parts, length), { binary: true });
    },
    close(code, reason) {
      if (ws.readyState === ws.CLOSED || ws.readyState === ws.CLOSING) return;
      ws.close(code, truncateCloseReason(reason));
    },
    setHandler(h) {
      handler = h;
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    remoteAddress,
  };
}

/** RFC 6455 §5.5: a close frame's reason fits in 123 bytes of UTF-8; `ws` throws beyond that. */
const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Cuts a close reason to {@link MAX_CLOSE_REASON_BYTES} bytes of UTF-8 without splitting a
 * character. Reasons can quote what a peer sent (an unknown message type, say), so a character
 * count is not enough: 120 three-byte characters would make `ws.close` throw.
 */
export function truncateCloseReason(reason: string): string {
  if (Buffer.byteLength(reason, 'utf8') <= MAX_CLOSE_REASON_BYTES) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > MAX_CLOSE_REASON_BYTES) break;
    out += ch;
    bytes += n;
  }
  return out;
}
