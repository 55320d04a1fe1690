/** Receives what arrives on a {@link FrameTransport}. Exactly one handler is installed at a time. */
export interface TransportHandler {
  onMessage(message: Buffer): void;
  /** The transport is closed; called once. */
  onClose(code: number, reason: string): void;
}

/**
 * A message-oriented, ordered, reliable byte transport: one WebSocket connection in production
 * (`wsTransport` in src/connection: the multiplexer knows nothing of ws), an in-memory pair in tests. Each message carries one or more whole frames.
 */
export interface FrameTransport {
  send(message: Buffer): void;
  /**
   * Optional: sends one message whose bytes are `parts` in order (`length` in total) without joining
   * them first (`wsTransport` writes them gathered). Without it the frame writer joins them and calls `send`.
   */
  sendParts?(parts: readonly Buffer[], length: number): void;
  /** Starts a clean close; `onClose` follows. Idempotent. */
  close(code: number, reason: string): void;
  /** Replaces the handler (the handshake hands over to the multiplexer this way, losing nothing). */
  setHandler(handler: TransportHandler): void;
  /** Bytes accepted by `send` that are not yet written to the socket. */
  readonly bufferedAmount: number;
  readonly remoteAddress: string;
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
