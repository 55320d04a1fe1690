import type WebSocket from 'ws';

/** Receives what arrives on a {@link FrameTransport}. Exactly one handler is installed at a time. */
export interface TransportHandler {
  onMessage(message: Buffer): void;
  /** The transport is closed; called once. */
  onClose(code: number, reason: string): void;
}

/**
 * A message-oriented, ordered, reliable byte transport: one WebSocket connection in production, an
 * in-memory pair in tests. Each message carries one or more whole frames.
 */
export interface FrameTransport {
  send(message: Buffer): void;
  /** Starts a clean close; `onClose` follows. Idempotent. */
  close(code: number, reason: string): void;
  /** Replaces the handler (the handshake hands over to the multiplexer this way, losing nothing). */
  setHandler(handler: TransportHandler): void;
  /** Bytes accepted by `send` that are not yet written to the socket. */
  readonly bufferedAmount: number;
  readonly remoteAddress: string;
}

/** Adapts a `ws` WebSocket. Text messages are a protocol violation and close the connection. */
export function wsTransport(ws: WebSocket, remoteAddress: string): FrameTransport {
  let handler: TransportHandler | null = null;
  let closed = false;
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

/**
 * Two linked in-memory transports (like the MCP SDK's `InMemoryTransport.createLinkedPair`).
 * Delivery is asynchronous and ordered, as on a socket.
 */
export function createLinkedTransportPair(): [FrameTransport, FrameTransport] {
  const make = (name: string) => {
    let handler: TransportHandler | null = null;
    let closed = false;
    let peer: { deliver(m: Buffer): void; remoteClose(code: number, reason: string): void } | null = null;
    const t: FrameTransport & { deliver(m: Buffer): void; remoteClose(code: number, reason: string): void } = {
      send(message) {
        if (closed) return;
        const copy = Buffer.from(message);
        const p = peer;
        setImmediate(() => p?.deliver(copy));
      },
      close(code, reason) {
        if (closed) return;
        closed = true;
        const p = peer;
        setImmediate(() => {
          handler?.onClose(code, reason);
          p?.remoteClose(code, reason);
        });
      },
      setHandler(h) {
        handler = h;
      },
      bufferedAmount: 0,
      remoteAddress: name,
      deliver(m) {
        if (!closed) handler?.onMessage(m);
      },
      remoteClose(code, reason) {
        if (closed) return;
        closed = true;
        handler?.onClose(code, reason);
      },
    };
    return { t, link: (p: typeof t) => (peer = p) };
  };
  const a = make('memory-a');
  const b = make('memory-b');
  a.link(b.t);
  b.link(a.t);
  return [a.t, b.t];
}
