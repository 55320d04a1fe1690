import { AsyncSubject, Subject, asyncScheduler, defer, filter, map, of, take, type Observable } from '../rx';
import { CloseCode, ErrorCode, Flag, FrameType, encodeCodeReason, encodeJson, encodeWindowUpdate, type RequestHead, type ResponseHead } from '../protocol';
import { F, type Logger } from '../log';
import { ReceiveWindow, SendWindow } from './flow';
import { FrameWriter } from './frame-writer';
import { Liveness } from './liveness';
import { MuxStream, type StreamHost } from './stream';
import { StreamTable } from './stream-table';
import { ConnectionClosedError, StreamRefusedError } from './errors';
import type { FrameTransport } from './transport';
import type { CloseInfo, GoAwayInfo, IncomingStream, MultiplexerOptions } from './types';
import { noteForwardedBytes } from '../young-gc';

/**
 * The state and the sending half of a {@link Multiplexer}: the stream table, flow-control windows,
 * the frame writer, liveness, GOAWAY and close. The receiving half (frame dispatch) is the subclass
 * in multiplexer.ts; the split is by direction only, so read the two files together.
 */
export abstract class MultiplexerCore implements StreamHost {
  protected readonly streams: StreamTable;
  protected readonly connRecv: ReceiveWindow;
  protected readonly connSend: SendWindow;
  /** Streams that have a pending write but no connection credit, in arrival order. */
  protected readonly blocked = new Set<MuxStream>();
  /** Streams whose readable side has not ended or been destroyed (see {@link isIdle}). */
  protected readonly unread = new Set<MuxStream>();
  protected readonly writer: FrameWriter;
  protected readonly liveness: Liveness;
  protected closeInfo: CloseInfo | null = null;
  protected goAwaySent = false;
  /** True once the peer acknowledged a PING sent after our GOAWAY: it has seen the GOAWAY. */
  protected goAwaySeen = false;
  protected remoteGoAway: GoAwayInfo | null = null;
  protected streamHandler: ((s: IncomingStream) => void) | null = null;
  protected readonly closedSubject = new AsyncSubject<CloseInfo>();
  protected readonly goAwaySubject = new Subject<GoAwayInfo>();
  protected readonly controlSubject = new Subject<Buffer>();
  /** Resumption hook (src/gateway/resume/): valued once either side's GOAWAY makes the connection draining. */
  protected readonly drainingSubject = new AsyncSubject<void>();
  /** Ticks whenever {@link isIdle} may have become true (a stream released, the GOAWAY fence passed, closed). */
  protected readonly idleCheck = new Subject<void>();
  protected readonly log: Logger;
  /** Bytes received / sent in DATA payloads, for metrics. */
  bytesIn = 0;
  bytesOut = 0;

  /** Emits once when the connection closes, then completes (late subscribers get it too). */
  readonly closed$: Observable<CloseInfo> = this.closedSubject.asObservable();
  /** Emits when the peer sends GOAWAY (it will accept no new streams). */
  readonly goAway$: Observable<GoAwayInfo> = this.goAwaySubject.asObservable();
  /**
   * Emits once, then completes, when the connection starts draining (this side sent GOAWAY, or the
   * peer did); late subscribers get it too. Completes without a value if it closes without a GOAWAY.
   */
  readonly draining$: Observable<void> = this.drainingSubject.asObservable();
  /** CONTROL payloads received after the handshake (re-auth, drain; parsed by the session layer). */
  readonly control$: Observable<Buffer> = this.controlSubject.asObservable();
  /**
   * Emits once, then completes, when {@link isIdle} holds: at once if it holds now, else as soon as
   * it does. This is what a drain waits for (see `drain` in drain.ts), instead of polling.
   */
  readonly idle$: Observable<void> = defer(() =>
    this.isIdle
      ? of(undefined)
      : this.idleCheck.pipe(
          filter(() => this.isIdle),
          take(1),
          map(() => undefined),
        ),
  );

  constructor(
    protected readonly transport: FrameTransport,
    protected readonly opts: MultiplexerOptions,
  ) {
    this.log = opts.logger;
    this.streams = new StreamTable(opts.role);
    this.connRecv = new ReceiveWindow(opts.local.connectionWindow);
    this.connSend = new SendWindow(opts.remote.connectionWindow);
    this.writer = new FrameWriter(transport, opts.remote.connectionWindow);
    const scheduler = opts.scheduler ?? asyncScheduler;
    this.liveness = new Liveness({
      intervalMs: opts.heartbeatIntervalMs ?? 0,
      scheduler,
      now: opts.now ?? (() => scheduler.now()),
      sendPing: (payload) => this.enqueue(FrameType.PING, 0, 0, payload),
      onTick: () => this.writer.retryHeldAck(), // a held ACK goes out once the backlog has drained
      onDead: (silentMs) => {
        this.log.warn({ [F.reason]: `no frame for ${silentMs} ms` }, 'peer missed heartbeats; closing');
        this.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      },
    });
    // Handlers run only after construction completes (the transport delivers asynchronously).
    transport.setHandler({
      onMessage: (m) => this.onMessage(m),
      onClose: (code, reason) => this.onTransportClose(code, reason),
    });
  }

  /** Streams currently open (not both ended, not reset). */
  get activeStreams(): number {
    return this.streams.size;
  }

  get isClosed(): boolean {
    return this.closeInfo !== null;
  }

  /** True once either side sent GOAWAY: no new streams may be opened. */
  get isDraining(): boolean {
    return this.goAwaySent || this.remoteGoAway !== null;
  }

  /**
   * True once the peer has certainly read our GOAWAY (it answered the PING sent after it): every
   * stream it opened before that has arrived, so "no active streams" now means "drained".
   */
  get goAwayAcknowledged(): boolean {
    return this.goAwaySeen;
  }

  /**
   * No stream is open and none can still arrive unannounced: closed, or no open stream (nor one whose
   * received data the application has not read to its end yet) and - if
   * this side accepts streams (proxy) and sent GOAWAY - the peer has acknowledged that GOAWAY
   * (the fence: a stream it opened just before reading it may still be on the wire).
   */
  get isIdle(): boolean {
    if (this.isClosed) return true;
    if (this.streams.size > 0 || this.unread.size > 0) return false;
    return this.opts.role === 'gateway' || !this.goAwaySent || this.goAwaySeen;
  }

  /** Whether {@link openStream} would succeed now. */
  get canOpenStream(): boolean {
    return !this.isClosed && !this.isDraining && this.streams.size < this.opts.remote.maxStreams;
  }

  /** Installs the handler for streams the peer opens (proxy side). Without one they are refused. */
  onStream(handler: (s: IncomingStream) => void): void {
    this.streamHandler = handler;
  }

  /**
   * Opens a stream by sending its request head (gateway side).
   * @throws StreamRefusedError when closed, draining or at the peer's stream limit.
   */
  openStream(head: RequestHead, options: { endStream?: boolean } = {}): MuxStream {
    if (!this.canOpenStream) {
      throw new StreamRefusedError(
        this.isClosed ? 'tunnel connection is closed' : this.isDraining ? 'tunnel connection is draining' : 'tunnel connection is at its stream limit',
      );
    }
    const id = this.streams.allocateLocalId();
    const stream = this.createStream(id);
    stream.requestHead = head;
    const end = options.endStream === true;
    this.enqueue(FrameType.HEADERS, end ? Flag.END_STREAM : 0, id, encodeJson(head));
    if (end) {
      stream.localEnded = true;
      stream.end();
    }
    return stream;
  }

  /** Sends a CONTROL message (after the handshake). */
  sendControl(message: unknown): void {
    this.enqueue(FrameType.CONTROL, 0, 0, encodeJson(message));
  }

  /** Measures a round trip. Resolves with the RTT in ms; never rejects (pending pings die with the connection). */
  ping(): Promise<number> {
    return this.liveness.ping();
  }

  /** PINGs of ours (heartbeats, RTT probes, the GOAWAY fence) the peer has acknowledged so far. */
  get pingsAnswered(): number {
    return this.liveness.pingsAnswered;
  }

  /** Tells the peer no new streams will be accepted/opened; in-flight streams continue. */
  goAway(code: number = ErrorCode.NO_ERROR, reason = 'going away'): void {
    if (this.goAwaySent || this.isClosed) return;
    this.goAwaySent = true;
    this.markDraining();
    this.enqueue(FrameType.GOAWAY, 0, 0, encodeCodeReason(code, reason, this.streams.lastRemoteId));
    // HTTP/2's graceful-shutdown fence: streams the peer opened before it read the GOAWAY are still
    // served (it could not know); once it acknowledges this PING, frames are ordered, so it has.
    void this.ping().then(() => {
      this.goAwaySeen = true;
      this.idleCheck.next();
    });
  }

  /** Either side's GOAWAY: tell {@link draining$} subscribers (once). */
  protected markDraining(): void {
    this.drainingSubject.next();
    this.drainingSubject.complete();
  }

  /** Closes the connection: open streams fail with ConnectionClosedError, queued frames are flushed first. */
  close(code: number = CloseCode.GOING_AWAY, reason = 'closing'): void {
    if (this.closeInfo) return;
    this.writer.flush();
    // Close the transport first: `finish` notifies closed$ subscribers, whose teardown may close
    // the socket itself (with 4000), and the peer must see this code and reason, not that one.
    this.transport.close(code, reason);
    this.finish({ code, reason, local: true });
  }

  // ---- StreamHost -------------------------------------------------------------------------------

  /** @internal */
  pump(stream: MuxStream): void {
    const pw = stream.pendingWrite;
    if (!pw || this.isClosed) return;
    while (true) {
      const left = pw.chunk.length - pw.offset;
      const n = Math.min(left, stream.sendWindow.available, this.connSend.available, this.opts.remote.maxFrameSize);
      if (n <= 0) {
        if (stream.sendWindow.available > 0) this.blocked.add(stream);
        return;
      }
      stream.sendWindow.consume(n);
      this.connSend.consume(n);
      this.bytesOut += n;
      stream.bytesSent += n;
      noteForwardedBytes(n);
      this.enqueue(FrameType.DATA, 0, stream.id, pw.chunk.subarray(pw.offset, pw.offset + n));
      pw.offset += n;
      if (pw.offset === pw.chunk.length) {
        stream.pendingWrite = null;
        pw.cb();
        return;
      }
    }
  }

  /** @internal */
  consumed(stream: MuxStream, n: number, keptUp = false): void {
    if (this.isClosed) return;
    if (!stream.remoteEnded && !stream.isReset && this.streams.get(stream.id) === stream) {
      const inc = stream.recvWindow.consume(n, false, keptUp);
      if (inc > 0) this.enqueue(FrameType.WINDOW_UPDATE, 0, stream.id, encodeWindowUpdate(inc));
    }
    this.creditConnection(n);
  }

  /** @internal */
  sendEnd(stream: MuxStream): void {
    this.enqueue(FrameType.DATA, Flag.END_STREAM, stream.id);
  }

  /** @internal */
  sendReset(stream: MuxStream, code: number, reason: string): void {
    if (this.isClosed) return;
    this.enqueue(FrameType.RST_STREAM, 0, stream.id, encodeCodeReason(code, reason));
  }

  /** @internal */
  sendResponseHead(stream: MuxStream, head: ResponseHead, endStream: boolean): void {
    this.enqueue(FrameType.HEADERS, endStream ? Flag.END_STREAM : 0, stream.id, encodeJson(head));
  }

  /** @internal */
  release(stream: MuxStream, unconsumed: number): void {
    this.streams.remove(stream);
    this.blocked.delete(stream);
    if (unconsumed > 0) this.creditConnection(unconsumed);
    if (this.streams.size === 0) this.idleCheck.next();
  }

  protected createStream(id: number): MuxStream {
    const stream = new MuxStream(
      id,
      this,
      { recv: this.opts.local.streamWindow, send: this.opts.remote.streamWindow, recvMax: growableStreamWindow(this.opts.local) },
      Math.min(64 * 1024, this.opts.local.streamWindow),
    );
    this.streams.add(stream);
    // Released (both ends on the wire) is not yet delivered: the application may still be reading
    // the tail, and a drain that closed now would log "drained" before the client had it all.
    this.unread.add(stream);
    const delivered = (): void => {
      if (this.unread.delete(stream) && this.streams.size === 0) this.idleCheck.next();
    };
    stream.once('end', delivered);
    stream.once('close', delivered);
    return stream;
  }

  protected creditConnection(n: number): void {
    if (n <= 0 || this.isClosed) return;
    const inc = this.connRecv.consume(n);
    if (inc > 0) this.enqueue(FrameType.WINDOW_UPDATE, 0, 0, encodeWindowUpdate(inc));
  }

  /** Handles one transport message (the receiving half). */
  protected abstract onMessage(message: Buffer): void;

  // ---- sending ----------------------------------------------------------------------------------

  protected enqueue(type: FrameType, flags: number, streamId: number, payload?: Buffer): void {
    if (!this.isClosed) this.writer.enqueue(type, flags, streamId, payload);
  }

  protected onTransportClose(code: number, reason: string): void {
    if (this.closeInfo) return;
    this.finish({ code, reason, local: false });
  }

  protected finish(info: CloseInfo): void {
    this.closeInfo = info;
    this.liveness.stop();
    this.writer.stop();
    const err = new ConnectionClosedError(info.code, info.reason, info.local);
    for (const s of this.streams.drainAll()) s.onReset(err);
    this.unread.clear();
    this.blocked.clear();
    this.closedSubject.next(info);
    this.closedSubject.complete();
    this.goAwaySubject.complete();
    this.drainingSubject.complete();
    this.controlSubject.complete();
    this.idleCheck.next();
    this.idleCheck.complete();
  }
}

/**
 * How far a stream's receive window may grow while its reader keeps up (decisions.md D70):
 * four times the configured window, but no more than a sixteenth of the connection window, so that
 * it takes sixteen streams whose readers stall after growing to hold all of the connection's credit
 * (64 at the default 256 KiB window without growth). Defaults: 256 KiB → 1 MiB of a 16 MiB window.
 */
export const STREAM_WINDOW_GROWTH = 4;

export function growableStreamWindow(local: { streamWindow: number; connectionWindow: number }): number {
  return Math.max(local.streamWindow, Math.min(local.streamWindow * STREAM_WINDOW_GROWTH, Math.floor(local.connectionWindow / 16)));
}
