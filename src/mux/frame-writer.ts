import { Flag, FrameType, FRAME_HEADER_BYTES, writeFrameHeader } from '../protocol';
import type { FrameTransport } from './transport';

/** Flush a batch early once it holds this many bytes. */
const MAX_BATCH_BYTES = 256 * 1024;

/**
 * With a transport that sends gathered (`sendParts`), payloads at least this large are sent as they
 * are; the small pieces between them (headers, heads, control frames) are still joined, since a
 * `writev` entry costs more than copying a few hundred bytes.
 */
export const GATHER_MIN_BYTES = 16 * 1024;

/**
 * Outbound backlog the peer can explain beyond its connection credit (our DATA is bounded by that
 * credit; heads and control frames are small). A backlog above credit + this means the peer is not
 * reading what we send, and then we queue no reply to its frames: a held PING ACK waits, and a frame
 * that needs an automatic RST_STREAM closes the connection as a flood (docs/protocol.md §7).
 */
export const REPLY_BACKLOG_SLACK_BYTES = 4 * 1024 * 1024;

/**
 * Coalesces outbound frames into one transport message per tick (or per {@link MAX_BATCH_BYTES}).
 * Holds at most one PING ACK: a newer PING replaces an ACK not yet written (frames are ordered, so
 * one ACK tells the peer every earlier PING arrived), and the ACK waits while the peer is not reading.
 */
export class FrameWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private flushScheduled: NodeJS.Immediate | null = null;
  private pendingPingAck: Buffer | null = null;
  private stopped = false;

  constructor(
    private readonly transport: FrameTransport,
    /** The peer's connection window: what it may legitimately leave unread. */
    private readonly peerConnectionWindow: number,
  ) {}

  /** Queues one frame; flushed on the next tick, or at once when the batch is full. */
  enqueue(type: FrameType, flags: number, streamId: number, payload?: Buffer): void {
    if (this.stopped) return;
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    const len = payload ? payload.length : 0;
    writeFrameHeader(header, 0, type, flags, streamId, len);
    this.batch.push(header);
    if (payload && len > 0) this.batch.push(payload);
    this.batchBytes += FRAME_HEADER_BYTES + len;
    if (this.batchBytes >= MAX_BATCH_BYTES) this.flush();
    else this.scheduleFlush();
  }

  /** Answers a PING (coalesced, see the class comment). */
  ackPing(payload: Buffer): void {
    this.pendingPingAck = Buffer.from(payload);
    this.scheduleFlush();
  }

  /** Retries a held PING ACK (the peer read something, or a heartbeat tick passed). */
  retryHeldAck(): void {
    if (this.pendingPingAck) this.scheduleFlush();
  }

  /** Bytes queued for the peer beyond what its connection credit can explain (see {@link REPLY_BACKLOG_SLACK_BYTES}). */
  get replyBacklogged(): boolean {
    return this.transport.bufferedAmount + this.batchBytes > this.peerConnectionWindow + REPLY_BACKLOG_SLACK_BYTES;
  }

  scheduleFlush(): void {
    if (!this.flushScheduled && !this.stopped) this.flushScheduled = setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.flushScheduled) {
      clearImmediate(this.flushScheduled);
      this.flushScheduled = null;
    }
    const ack = this.pendingPingAck;
    if (ack && !this.replyBacklogged) {
      this.pendingPingAck = null;
      const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
      writeFrameHeader(header, 0, FrameType.PING, Flag.ACK, 0, ack.length);
      this.batch.push(header, ack);
      this.batchBytes += FRAME_HEADER_BYTES + ack.length;
    }
    if (this.batch.length === 0) return;
    const batch = this.batch;
    const bytes = this.batchBytes;
    this.batch = [];
    this.batchBytes = 0;
    if (batch.length === 1) this.transport.send(batch[0]!);
    else if (this.transport.sendParts) this.transport.sendParts(gatherParts(batch), bytes);
    else this.transport.send(Buffer.concat(batch, bytes));
  }

  /** Drops everything queued; later frames are ignored (the connection closed). */
  stop(): void {
    this.stopped = true;
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = null;
    this.batch = [];
    this.batchBytes = 0;
    this.pendingPingAck = null;
  }
}

/** The batch as `sendParts` takes it: each large payload as it is, each run of small pieces joined. */
function gatherParts(batch: readonly Buffer[]): Buffer[] {
  const parts: Buffer[] = [];
  let run: Buffer[] = [];
  let runBytes = 0;
  const endRun = (): void => {
    if (run.length > 0) parts.push(run.length === 1 ? run[0]! : Buffer.concat(run, runBytes));
    run = [];
    runBytes = 0;
  };
  for (const piece of batch) {
    if (piece.length >= GATHER_MIN_BYTES) {
      endRun();
      parts.push(piece);
    } else {
      run.push(piece);
      runBytes += piece.length;
    }
  }
  endRun();
  return parts;
}

