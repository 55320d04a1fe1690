import { Duplex } from 'node:stream';
import { ErrorCode, type ResponseHead, type RequestHead } from '../protocol';
import { ReceiveWindow, SendWindow } from './flow';
import { StreamResetError } from './errors';

/** What a stream needs from its multiplexer; keeps the two files decoupled. */
export interface StreamHost {
  /** Tries to send the stream's pending write within the available credit. */
  pump(stream: MuxStream): void;
  /**
   * The application consumed `n` received bytes of this stream; `keptUp`: at once, as they arrived
   * (the stream's window may grow then, see ReceiveWindow).
   */
  consumed(stream: MuxStream, n: number, keptUp?: boolean): void;
  sendEnd(stream: MuxStream): void;
  sendReset(stream: MuxStream, code: number, reason: string): void;
  sendResponseHead(stream: MuxStream, head: ResponseHead, endStream: boolean): void;
  /** The stream is finished (both sides ended, or reset); forget it. */
  release(stream: MuxStream, unconsumed: number): void;
}

interface PendingWrite {
  chunk: Buffer;
  offset: number;
  cb: (err?: Error | null) => void;
}

/**
 * One request/response exchange on a tunnel connection, as a Node Duplex: write the body you send,
 * read the body you receive. Backpressure is end to end: what this side does not read is not
 * credited, so the peer stops sending after one window.
 *
 * Events: `response` (ResponseHead) on the opening side when the answer's head arrives;
 * `stopSending` when the peer, its own side complete, reset the stream with NO_ERROR (writes are
 * dropped from then on; the received body stays readable).
 * Destroying the stream resets it on the wire (CANCEL unless the error carries `wireCode`).
 */
export class MuxStream extends Duplex {
  readonly recvWindow: ReceiveWindow;
  readonly sendWindow: SendWindow;
  /** The head that opened the stream (set on both sides). */
  requestHead: RequestHead | null = null;
  responseHead: ResponseHead | null = null;
  /** @internal pending body chunk waiting for credit. */
  pendingWrite: PendingWrite | null = null;
  localEnded = false;
  remoteEnded = false;
  /** Body bytes received from / sent to the peer (DATA payloads), for audit and metrics. */
  bytesReceived = 0;
  bytesSent = 0;
  /** True once a RST was sent or received: nothing more is sent on this stream. */
  isReset = false;
  private held = 0;
  private released = false;

  constructor(
    readonly id: number,
    private readonly host: StreamHost,
    windows: { recv: number; send: number; recvMax?: number },
    highWaterMark: number,
  ) {
    super({ allowHalfOpen: true, readableHighWaterMark: highWaterMark, writableHighWaterMark: highWaterMark });
    this.recvWindow = new ReceiveWindow(windows.recv, windows.recvMax);
    this.sendWindow = new SendWindow(windows.send);
  }

  /** Proxy side: sends the response head. Call before writing the body. */
  respond(head: ResponseHead, options: { endStream?: boolean } = {}): void {
    if (this.responseHead) throw new Error('response head already sent');
    this.responseHead = head;
    if (this.isReset || this.destroyed) return;
    this.host.sendResponseHead(this, head, options.endStream === true);
    if (options.endStream) {
      this.localEnded = true;
      this.end();
      this.maybeRelease();
    }
  }

  /**
   * Resets the stream with a wire error code (e.g. UPSTREAM_UNREACHABLE) and a short reason. Without
   * `localError` the stream is destroyed quietly (the caller knows why); with it, local listeners get
   * that `'error'` (the multiplexer's own resets use it, so the application learns of them).
   */
  resetWith(code: number, reason: string, localError?: Error): void {
    if (!this.isReset && !this.released) {
      this.isReset = true;
      this.host.sendReset(this, code, reason);
    }
    this.destroy(localError);
  }

  /**
   * True once the peer, having ended its own side, sent RST_STREAM NO_ERROR: it asks us to stop
   * sending (RFC 9113 §8.1, "a complete response before the complete request"). What we received is
   * complete and stays readable; what we still write is dropped.
   */
  sendStopped = false;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.sendStopped) return cb();
    if (this.isReset) return cb(new StreamResetError(ErrorCode.CANCEL, 'stream was reset'));
    if (chunk.length === 0) return cb();
    this.pendingWrite = { chunk, offset: 0, cb };
    this.host.pump(this);
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.localEnded && !this.isReset) {
      this.localEnded = true;
      this.host.sendEnd(this);
    }
    cb();
    this.maybeRelease();
  }

  override _read(): void {
    if (this.held > 0) {
      const n = this.held;
      this.held = 0;
      this.host.consumed(this, n);
    }
  }

  /**
   * Node stops calling `_read` once the end of the body is pushed, so bytes held back for want of
   * buffer space would keep their connection credit until the stream is released, which on the
   * proxy is only after the whole response: a few large request bodies answered by long responses
   * (SSE) would starve every other stream. Return it as the application drains the buffer instead.
   */
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    if (this.remoteEnded && this.held > 0) {
      // Held bytes are the tail of the buffer; whatever of them has left it has been consumed.
      const drained = this.held - this.readableLength;
      if (drained > 0) {
        this.held -= drained;
        this.host.consumed(this, drained);
      }
    }
    return chunk;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.isReset && !(this.localEnded && this.remoteEnded)) {
      this.isReset = true;
      const wire = (err as { wireCode?: number } | null)?.wireCode;
      const code = wire ?? (!err || err.name === 'AbortError' ? ErrorCode.CANCEL : ErrorCode.INTERNAL_ERROR);
      this.host.sendReset(this, code, err ? err.message : 'cancelled');
    }
    this.pendingWrite = null;
    this.doRelease();
    cb(err);
  }

  /** @internal A DATA payload arrived (already within the window). */
  onData(chunk: Buffer): void {
    this.bytesReceived += chunk.length;
    // Kept up: the reader took the chunk as it came (flowing, nothing buffered or held back).
    if (this.push(chunk)) this.host.consumed(this, chunk.length, this.held === 0 && this.readableLength === 0);
    else this.held += chunk.length;
  }

  /**
   * @internal END_STREAM arrived. `'remoteEnd'` is emitted synchronously, before the stream's own
   * `'end'` (a tick later): a consumer that re-emits the body (src/gateway/resume/) ends its output in
   * the same tick, so the client sees this stream end no later than an answer that followed it upstream.
   */
  onRemoteEnd(): void {
    this.remoteEnded = true;
    this.emit('remoteEnd');
    this.push(null);
    this.maybeRelease();
  }

  /** @internal RST_STREAM arrived, or the connection died. */
  onReset(err: Error): void {
    this.isReset = true;
    if (this.remoteEnded && (err as { wireCode?: number }).wireCode === ErrorCode.NO_ERROR && err instanceof StreamResetError) {
      this.stopSending();
      return;
    }
    this.destroy(err);
  }

  /** The peer's side is complete and it needs nothing more from us: end ours without an error. */
  private stopSending(): void {
    this.sendStopped = true;
    this.localEnded = true;
    const pw = this.pendingWrite;
    this.pendingWrite = null;
    pw?.cb();
    this.emit('stopSending');
    this.maybeRelease();
  }

  private maybeRelease(): void {
    if (this.localEnded && this.remoteEnded) this.doRelease();
  }

  private doRelease(): void {
    if (this.released) return;
    this.released = true;
    const unconsumed = this.held;
    this.held = 0;
    this.host.release(this, unconsumed);
  }
}
