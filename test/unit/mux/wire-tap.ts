import { Flag, FrameType, decodeFrames, decodeWindowUpdate, type Frame, type PeerSettings } from '../../../src/protocol';
import type { FrameTransport } from '../../../src/mux';

/**
 * Test instrumentation: wraps one end of a transport pair, decodes every frame that side sends and
 * receives, and keeps a model of the credit the peer has granted it. Records (never throws: the
 * multiplexer would swallow a throw from `send` as a protocol failure) every violation of:
 * - flow control: DATA beyond the stream or connection credit the peer has granted so far, or
 *   longer than the peer's maxFrameSize;
 * - "no frame after reset": any frame for a stream id after this side sent RST_STREAM for it;
 * - DATA or HEADERS for a stream after this side sent END_STREAM on it.
 */
export class WireTap {
  readonly violations: string[] = [];
  /** DATA payload bytes sent, and connection credit granted by the peer (WINDOW_UPDATE on 0). */
  connSent = 0;
  connGranted = 0;
  /** DATA payload bytes received from the peer, and connection credit this side announced for them. */
  dataReceived = 0;
  connAnnounced = 0;
  /** Messages sent, for quiescence detection. */
  messagesSent = 0;
  readonly resetSent = new Set<number>();
  readonly rstSentCount = new Map<number, number>();
  private readonly endSent = new Set<number>();
  private readonly streamSent = new Map<number, number>();
  private readonly streamGranted = new Map<number, number>();
  readonly transport: FrameTransport;

  /** `peer`: the settings the peer announced (what this side must respect). */
  constructor(
    readonly name: string,
    inner: FrameTransport,
    private readonly peer: PeerSettings,
  ) {
    this.transport = {
      send: (m) => {
        this.messagesSent++;
        this.outgoing(this.decode(m, 'sent'));
        inner.send(m);
      },
      close: (code, reason) => inner.close(code, reason),
      setHandler: (h) =>
        inner.setHandler({
          onMessage: (m) => {
            this.incoming(this.decode(m, 'received'));
            h.onMessage(m);
          },
          onClose: (code, reason) => h.onClose(code, reason),
        }),
      get bufferedAmount() {
        return inner.bufferedAmount;
      },
      remoteAddress: inner.remoteAddress,
    };
  }

  /** Connection credit this side is withholding from the peer: bytes received but not yet credited. */
  get connWithheld(): number {
    return this.dataReceived - this.connAnnounced;
  }

  /** Credit this side still has on the connection, by the model. */
  get connCredit(): number {
    return this.peer.connectionWindow + this.connGranted - this.connSent;
  }

  private decode(m: Buffer, what: string): Frame[] {
    try {
      return decodeFrames(m);
    } catch (err) {
      this.violations.push(`${this.name} ${what} an undecodable message: ${(err as Error).message}`);
      return [];
    }
  }

  private outgoing(frames: Frame[]): void {
    for (const f of frames) {
      const id = f.streamId;
      if (id !== 0 && this.resetSent.has(id)) {
        this.violations.push(`${this.name} sent frame type ${f.type} on stream ${id} after sending RST_STREAM for it`);
      }
      switch (f.type) {
        case FrameType.WINDOW_UPDATE:
          if (id === 0) this.connAnnounced += decodeWindowUpdate(f.payload);
          break;
        case FrameType.RST_STREAM:
          this.resetSent.add(id);
          this.rstSentCount.set(id, (this.rstSentCount.get(id) ?? 0) + 1);
          break;
        case FrameType.HEADERS:
          if (this.endSent.has(id)) this.violations.push(`${this.name} sent HEADERS on stream ${id} after END_STREAM`);
          if (f.flags & Flag.END_STREAM) this.endSent.add(id);
          break;
        case FrameType.DATA: {
          const n = f.payload.length;
          if (this.endSent.has(id)) this.violations.push(`${this.name} sent DATA on stream ${id} after END_STREAM`);
          if (f.flags & Flag.END_STREAM) this.endSent.add(id);
          if (n > this.peer.maxFrameSize) this.violations.push(`${this.name} sent a ${n}-byte DATA frame; peer maxFrameSize ${this.peer.maxFrameSize}`);
          this.connSent += n;
          const sent = (this.streamSent.get(id) ?? 0) + n;
          this.streamSent.set(id, sent);
          const streamCredit = this.peer.streamWindow + (this.streamGranted.get(id) ?? 0);
          if (sent > streamCredit) this.violations.push(`${this.name} sent ${sent} bytes on stream ${id}; granted ${streamCredit}`);
          if (this.connCredit < 0) {
            this.violations.push(`${this.name} sent ${this.connSent} bytes on the connection; granted ${this.peer.connectionWindow + this.connGranted}`);
          }
          break;
        }
      }
    }
  }

  private incoming(frames: Frame[]): void {
    for (const f of frames) {
      if (f.type === FrameType.DATA) this.dataReceived += f.payload.length;
      if (f.type !== FrameType.WINDOW_UPDATE) continue;
      const inc = decodeWindowUpdate(f.payload);
      if (f.streamId === 0) this.connGranted += inc;
      else this.streamGranted.set(f.streamId, (this.streamGranted.get(f.streamId) ?? 0) + inc);
    }
  }
}
