import type WebSocket from 'ws';

/**
 * Gathered writes for the tunnel's WebSocket (issue 10, big streams; decisions.md D56).
 *
 * `ws.send` takes one buffer, so a message of several frames had to be joined first: a copy of every
 * DATA byte on the sending side. This writes one binary WebSocket message whose payload is `parts`
 * in order - its header, then each part - under one `cork`, so the socket sends them with one
 * `writev` and nothing is copied. It writes to the socket `ws` itself writes to, and only when `ws`
 * has nothing queued (its sender queues only while compressing or reading a Blob, neither of which
 * the tunnel does), so frames stay in order; otherwise, or when the payload must be masked with a
 * random key, it returns false and the caller sends the joined buffer through `ws.send` as before.
 */

/** What of `ws`'s internals this relies on (ws 8.x); checked on every call, so a change falls back. */
interface WsInternals {
  _socket?: { cork(): void; uncork(): void; write(b: Buffer): boolean; writable?: boolean };
  _sender?: { _state?: number; _queue?: unknown[] };
}

const SENDER_DEFAULT_STATE = 0;

/**
 * Returns a gathered writer for `ws`, or null when its messages need a random mask.
 * @param zeroMask the client side was opened with an all-zero mask (src/connection/mask.ts)
 */
export function gatherWriter(ws: WebSocket, zeroMask: boolean): ((parts: readonly Buffer[], length: number) => boolean) | null {
  const isServer = (ws as unknown as { _isServer?: boolean })._isServer === true;
  if (!isServer && !zeroMask) return null;
  const masked = !isServer;
  return (parts, length) => {
    const internals = ws as unknown as WsInternals;
    const socket = internals._socket;
    const sender = internals._sender;
    if (!socket || !sender || sender._state !== SENDER_DEFAULT_STATE || (sender._queue?.length ?? 1) !== 0 || ws.readyState !== ws.OPEN) return false;
    socket.cork();
    socket.write(messageHeader(length, masked));
    for (const part of parts) socket.write(part);
    socket.uncork();
    return true;
  };
}

/** RFC 6455 §5.2 header of one unfragmented binary message; a client's carries an all-zero mask key. */
export function messageHeader(length: number, masked: boolean): Buffer {
  const lenBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const out = Buffer.alloc(2 + lenBytes + (masked ? 4 : 0)); // zero-filled: the mask key is 0
  out[0] = 0x82; // FIN, opcode 2 (binary)
  const maskBit = masked ? 0x80 : 0;
  if (lenBytes === 0) out[1] = maskBit | length;
  else if (lenBytes === 2) {
    out[1] = maskBit | 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    out.writeUInt32BE(length >>> 0, 6);
  }
  return out;
}
