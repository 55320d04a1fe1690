import { randomBytes } from 'node:crypto';
import { AsyncSubject, Subject, type Observable } from 'rxjs';
import {
  CloseCode,
  ErrorCode,
  Flag,
  FrameType,
  FRAME_HEADER_BYTES,
  MAX_STREAM_ID,
  HeaderProtocolError,
  ProtocolError,
  decodeFrames,
  decodeGoAway,
  decodeRst,
  decodeWindowUpdate,
  encodeCodeReason,
  encodeJson,
  encodeWindowUpdate,
  errorCodeName,
  parseRequestHead,
  parseResponseHead,
  writeFrameHeader,
  type Frame,
  type PeerSettings,
  type RequestHead,
  type ResponseHead,
} from '../protocol';
import type { Logger } from '../log';
import { F } from '../log';
import { ReceiveWindow, SendWindow } from './flow';
import { MuxStream, type StreamHost } from './stream';
import { BadResponseHeadError, ConnectionClosedError, StreamProtocolError, StreamRefusedError, StreamResetError } from './errors';
import type { FrameTransport } from './transport';

/** Flush a batch early once it holds this many bytes. */
const MAX_BATCH_BYTES = 256 * 1024;
/** Silence checks per heartbeat interval: a dead peer is declared within 2 + 1/HEARTBEAT_CHECKS intervals. */
const HEARTBEAT_CHECKS = 4;
/**
 * Outbound backlog the peer can explain beyond its connection credit (our DATA is bounded by that
 * credit; heads and control frames are small). A backlog above credit + this means the peer is not
 * reading what we send, and then we queue no reply to its frames: a held PING ACK waits, and a frame
 * that needs an automatic RST_STREAM closes the connection as a flood (docs/protocol.md §7).
 */
export const REPLY_BACKLOG_SLACK_BYTES = 4 * 1024 * 1024;

export interface MultiplexerOptions {
  /** The gateway opens streams; the proxy accepts them. */
  role: 'gateway' | 'proxy';
  /** What we accept (announced to the peer in the handshake). */
  local: PeerSettings;
  /** What the peer accepts (from its handshake message). */
  remote: PeerSettings;
  logger: Logger;
  /** PING every interval; a peer silent for two intervals is declared dead. 0 disables. */
  heartbeatIntervalMs?: number;
  /** Injectable clock (ms). */
  now?: () => number;
}

export interface IncomingStream {
  stream: MuxStream;
  head: RequestHead;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when this side initiated the close. */
  local: boolean;
}

export interface GoAwayInfo {
  lastStreamId: number;
  code: number;
  reason: string;
}

/**
 * Many concurrent request streams over one {@link FrameTransport}, with per-stream and
 * per-connection credit-based flow control, coalesced writes, heartbeats and GOAWAY.
 * See docs/protocol.md for the wire format this implements.
 */
export class Multiplexer implements StreamHost {
  private readonly streams = new Map<number, MuxStream>();
  private readonly connRecv: ReceiveWindow;
  private readonly connSend: SendWindow;
  /** Streams that have a pending write but no connection credit, in arrival order. */
  private readonly blocked = new Set<MuxStream>();
  private nextStreamId = 1;
  private lastRemoteStreamId = 0;
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private flushScheduled: NodeJS.Immediate | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastReceived: number;
  private readonly pings = new Map<string, { sentAt: number; resolve: (rtt: number) => void }>();
  /** Payload of the latest PING not yet answered: at most one ACK is ever pending (docs/protocol.md §7). */
  private pendingPingAck: Buffer | null = null;
  private closeInfo: CloseInfo | null = null;
  private goAwaySent = false;
  /** True once the peer acknowledged a PING sent after our GOAWAY: it has seen the GOAWAY. */
  private goAwaySeen = false;
  private remoteGoAway: GoAwayInfo | null = null;
  private streamHandler: ((s: IncomingStream) => void) | null = null;
  private readonly closedSubject = new AsyncSubject<CloseInfo>();
  private readonly goAwaySubject = new Subject<GoAwayInfo>();
  private readonly controlSubject = new Subject<Buffer>();
  private readonly now: () => number;
  private readonly log: Logger;
  /** Bytes received / sent in DATA payloads, for metrics. */
  bytesIn = 0;
  bytesOut = 0;

  /** Emits once when the connection closes, then completes (late subscribers get it too). */
  readonly closed$: Observable<CloseInfo> = this.closedSubject.asObservable();
  /** Emits when the peer sends GOAWAY (it will accept no new streams). */
  readonly goAway$: Observable<GoAwayInfo> = this.goAwaySubject.asObservable();
  /** CONTROL payloads received after the handshake (re-auth, drain; parsed by the session layer). */
  readonly control$: Observable<Buffer> = this.controlSubject.asObservable();

  constructor(
    private readonly transport: FrameTransport,
    private readonly opts: MultiplexerOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.lastReceived = this.now();
    this.log = opts.logger;
    this.connRecv = new ReceiveWindow(opts.local.connectionWindow);
    this.connSend = new SendWindow(opts.remote.connectionWindow);
    if (opts.role === 'proxy') this.nextStreamId = 2; // even ids are reserved for proxy-opened streams
    transport.setHandler({
      onMessage: (m) => this.onMessage(m),
      onClose: (code, reason) => this.onTransportClose(code, reason),
    });
    const interval = opts.heartbeatIntervalMs ?? 0;
    if (interval > 0) {
      // Silence is checked HEARTBEAT_CHECKS times per interval (PINGs still go once per interval): checking
      // only on the ping tick declared a dead peer up to three intervals after its last frame, not two.
      let ticks = 0;
      this.heartbeat = setInterval(() => this.onHeartbeat(interval, ++ticks % HEARTBEAT_CHECKS === 0), Math.max(1, Math.floor(interval / HEARTBEAT_CHECKS)));
      this.heartbeat.unref();
    }
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
    const id = this.nextStreamId;
    if (id > MAX_STREAM_ID) throw new StreamRefusedError('stream ids exhausted on this connection');
    this.nextStreamId += 2;
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
    const payload = randomBytes(8);
    return new Promise((resolve) => {
      this.pings.set(payload.toString('hex'), { sentAt: this.now(), resolve });
      this.enqueue(FrameType.PING, 0, 0, payload);
    });
  }

  /** Tells the peer no new streams will be accepted/opened; in-flight streams continue. */
  goAway(code: number = ErrorCode.NO_ERROR, reason = 'going away'): void {
    if (this.goAwaySent || this.isClosed) return;
    this.goAwaySent = true;
    this.enqueue(FrameType.GOAWAY, 0, 0, encodeCodeReason(code, reason, this.lastRemoteStreamId));
    // HTTP/2's graceful-shutdown fence: streams the peer opened before it read the GOAWAY are still
    // served (it could not know); once it acknowledges this PING, frames are ordered, so it has.
    void this.ping().then(() => {
      this.goAwaySeen = true;
    });
  }

  /** Closes the connection: open streams fail with ConnectionClosedError, queued frames are flushed first. */
  close(code: number = CloseCode.GOING_AWAY, reason = 'closing'): void {
    if (this.closeInfo) return;
    this.flush();
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
  consumed(stream: MuxStream, n: number): void {
    if (this.isClosed) return;
    if (!stream.remoteEnded && !stream.isReset && this.streams.get(stream.id) === stream) {
      const inc = stream.recvWindow.consume(n);
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
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.blocked.delete(stream);
    if (unconsumed > 0) this.creditConnection(unconsumed);
  }

  // ---- receiving --------------------------------------------------------------------------------

  private onMessage(message: Buffer): void {
    if (this.isClosed) return;
    this.lastReceived = this.now();
    if (this.pendingPingAck) this.scheduleFlush(); // held while the peer was not reading; try again
    let frames: Frame[];
    try {
      frames = decodeFrames(message);
    } catch (err) {
      this.protocolFailure(err);
      return;
    }
    for (const frame of frames) {
      if (this.isClosed) return;
      try {
        this.onFrame(frame);
      } catch (err) {
        this.protocolFailure(err);
        return;
      }
    }
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case FrameType.DATA:
        return this.onDataFrame(f);
      case FrameType.HEADERS:
        return this.onHeadersFrame(f);
      case FrameType.RST_STREAM: {
        this.requireStream(f);
        const { code, reason } = decodeRst(f.payload);
        this.streams.get(f.streamId)?.onReset(new StreamResetError(code, reason));
        return;
      }
      case FrameType.WINDOW_UPDATE: {
        const inc = decodeWindowUpdate(f.payload);
        if (f.streamId === 0) {
          if (!this.connSend.grant(inc)) throw new ProtocolError('TUNNEL_PROTOCOL_FLOW_CONTROL', 'connection window overflow');
          const waiting = [...this.blocked];
          this.blocked.clear();
          for (const s of waiting) this.pump(s);
        } else {
          const s = this.streams.get(f.streamId);
          if (!s) return;
          if (!s.sendWindow.grant(inc)) {
            this.resetForPeerError(s, ErrorCode.FLOW_CONTROL_ERROR, 'stream window overflow');
            return;
          }
          this.pump(s);
        }
        return;
      }
      case FrameType.PING: {
        if (f.streamId !== 0 || f.payload.length !== 8) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', 'PING must be 8 bytes on stream 0');
        if (f.flags & Flag.ACK) this.onPingAck(f.payload.toString('hex'));
        else {
          // Coalesced: a newer PING replaces an ACK not yet written (frames are ordered, so one ACK
          // tells the peer every earlier PING arrived too). A flood queues one ACK, not one each.
          this.pendingPingAck = Buffer.from(f.payload);
          this.scheduleFlush();
        }
        return;
      }
      case FrameType.GOAWAY: {
        if (f.streamId !== 0) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', 'GOAWAY must be on stream 0');
        const info = decodeGoAway(f.payload);
        this.remoteGoAway = info;
        this.log.info({ [F.code]: errorCodeName(info.code), [F.reason]: info.reason }, 'peer sent GOAWAY');
        this.goAwaySubject.next(info);
        return;
      }
      case FrameType.CONTROL: {
        if (f.streamId !== 0) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', 'CONTROL must be on stream 0');
        if (f.payload.length > this.opts.local.maxHeaderBytes) {
          throw new ProtocolError('TUNNEL_PROTOCOL_TOO_LARGE', 'control message too large');
        }
        this.controlSubject.next(f.payload);
        return;
      }
    }
  }

  /** An ACK answers its PING and, frames being ordered, every PING sent before it (a peer may coalesce). */
  private onPingAck(key: string): void {
    if (!this.pings.has(key)) return;
    const at = this.now();
    for (const [k, p] of this.pings) {
      this.pings.delete(k);
      p.resolve(at - p.sentAt);
      if (k === key) return;
    }
  }

  /** Bytes queued for the peer beyond what its connection credit can explain (see {@link REPLY_BACKLOG_SLACK_BYTES}). */
  private get replyBacklogged(): boolean {
    return this.transport.bufferedAmount + this.batchBytes > this.opts.remote.connectionWindow + REPLY_BACKLOG_SLACK_BYTES;
  }

  /**
   * Called before queueing a frame that answers the peer's frame (an automatic RST_STREAM): a peer
   * that does not read our replies but keeps provoking them is flooding us.
   * @throws ProtocolError `TUNNEL_PROTOCOL_FLOOD`.
   */
  private checkReplyBacklog(): void {
    if (this.replyBacklogged) {
      throw new ProtocolError('TUNNEL_PROTOCOL_FLOOD', 'peer provokes replies but does not read them (control frame flood)');
    }
  }

  private requireStream(f: Frame): void {
    if (f.streamId === 0) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', `frame type ${f.type} needs a stream id`);
  }

  private onDataFrame(f: Frame): void {
    this.requireStream(f);
    const n = f.payload.length;
    if (!this.connRecv.receive(n)) {
      throw new ProtocolError('TUNNEL_PROTOCOL_FLOW_CONTROL', `peer exceeded the connection window by sending ${n} bytes`);
    }
    this.bytesIn += n;
    this.deliverData(f);
    // This frame may have taken the peer's last credit while consumed bytes wait in the batch: if
    // other streams' readers are stalled, no further consumption would ever flush them.
    const due = this.connRecv.poll();
    if (due > 0) this.enqueue(FrameType.WINDOW_UPDATE, 0, 0, encodeWindowUpdate(due));
  }

  private deliverData(f: Frame): void {
    const n = f.payload.length;
    const s = this.streams.get(f.streamId);
    if (!s) {
      // Late data for a stream we already reset or finished: drop it but return the credit.
      if (!this.isKnownStreamId(f.streamId)) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_STREAM', `DATA on idle stream ${f.streamId}`);
      this.creditConnection(n);
      return;
    }
    if (s.remoteEnded) {
      this.creditConnection(n);
      this.resetForPeerError(s, ErrorCode.PROTOCOL_ERROR, 'DATA after END_STREAM');
      return;
    }
    if (!s.recvWindow.receive(n)) {
      this.creditConnection(n);
      this.resetForPeerError(s, ErrorCode.FLOW_CONTROL_ERROR, 'stream window exceeded');
      return;
    }
    this.appCall(s, () => {
      if (n > 0) s.onData(f.payload);
      if (f.flags & Flag.END_STREAM) s.onRemoteEnd();
    });
  }

  private onHeadersFrame(f: Frame): void {
    this.requireStream(f);
    const end = (f.flags & Flag.END_STREAM) !== 0;
    const existing = this.streams.get(f.streamId);
    if (this.opts.role === 'gateway') {
      // Only responses arrive here.
      if (!existing) {
        if (!this.isKnownStreamId(f.streamId)) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_STREAM', `HEADERS on idle stream ${f.streamId}`);
        return;
      }
      if (existing.responseHead) {
        this.resetForPeerError(existing, ErrorCode.PROTOCOL_ERROR, 'second HEADERS frame');
        return;
      }
      let head: ResponseHead;
      try {
        head = parseResponseHead(f.payload, this.opts.local.maxHeaderBytes);
      } catch (err) {
        this.checkReplyBacklog();
        const header = err instanceof HeaderProtocolError ? err.header : null;
        const message = (err as Error).message;
        // The header's name only: its value may be a secret, and is what broke the rules.
        this.log.warn({ [F.stream]: f.streamId, [F.code]: 'TUNNEL_BAD_RESPONSE_HEAD', [F.header]: header, [F.reason]: message }, 'rejected malformed response head; stream reset');
        existing.resetWith(ErrorCode.PROTOCOL_ERROR, message, new BadResponseHeadError(`bad response head from the proxy: ${message}`, header));
        return;
      }
      existing.responseHead = head;
      this.appCall(existing, () => existing.emit('response', head));
      if (end) existing.onRemoteEnd();
      return;
    }
    // Proxy: HEADERS opens a new stream.
    if (existing) {
      this.resetForPeerError(existing, ErrorCode.PROTOCOL_ERROR, 'second HEADERS frame');
      return;
    }
    if (f.streamId % 2 !== 1 || f.streamId <= this.lastRemoteStreamId) {
      if (f.streamId % 2 === 1 && f.streamId <= this.lastRemoteStreamId) return; // a stream we already closed
      throw new ProtocolError('TUNNEL_PROTOCOL_BAD_STREAM', `stream id ${f.streamId} is not a new odd id`);
    }
    this.lastRemoteStreamId = f.streamId;
    const refuse = (code: number, reason: string): void => {
      this.checkReplyBacklog();
      this.enqueue(FrameType.RST_STREAM, 0, f.streamId, encodeCodeReason(code, reason));
    };
    if (this.goAwaySent && this.goAwaySeen) return refuse(ErrorCode.REFUSED_STREAM, 'draining');
    if (this.streams.size >= this.opts.local.maxStreams) return refuse(ErrorCode.REFUSED_STREAM, 'too many concurrent streams');
    if (!this.streamHandler) return refuse(ErrorCode.REFUSED_STREAM, 'not accepting streams');
    let head: RequestHead;
    try {
      head = parseRequestHead(f.payload, this.opts.local.maxHeaderBytes);
    } catch (err) {
      const tooLarge = (err as { code?: string }).code === 'TUNNEL_PROTOCOL_TOO_LARGE';
      this.log.warn({ [F.stream]: f.streamId, [F.reason]: (err as Error).message }, 'rejected malformed request head');
      return refuse(tooLarge ? ErrorCode.FRAME_TOO_LARGE : ErrorCode.PROTOCOL_ERROR, (err as Error).message);
    }
    const stream = this.createStream(f.streamId);
    stream.requestHead = head;
    if (end) stream.onRemoteEnd();
    const handler = this.streamHandler;
    this.appCall(stream, () => handler({ stream, head }));
  }

  /**
   * Resets a stream because the peer broke the rules on it; the application gets the error (it may
   * still owe its client an answer).
   */
  private resetForPeerError(stream: MuxStream, code: number, reason: string): void {
    this.checkReplyBacklog();
    stream.resetWith(code, reason, new StreamProtocolError(code, reason));
  }

  /**
   * Runs application code (stream handler, 'response'/'data' listeners). If it throws, that is our
   * bug, not the peer's: reset only this stream and log, instead of closing the whole connection
   * with a protocol error.
   */
  private appCall(stream: MuxStream, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ [F.stream]: stream.id, [F.err]: err instanceof Error ? err.message : String(err) }, 'stream handler threw; resetting the stream');
      stream.resetWith(ErrorCode.INTERNAL_ERROR, 'internal error', new StreamProtocolError(ErrorCode.INTERNAL_ERROR, 'internal error'));
    }
  }

  private isKnownStreamId(id: number): boolean {
    const ownParity = this.opts.role === 'gateway' ? 1 : 0;
    if (id % 2 === ownParity) return id < this.nextStreamId;
    return id <= this.lastRemoteStreamId;
  }

  private createStream(id: number): MuxStream {
    const stream = new MuxStream(
      id,
      this,
      { recv: this.opts.local.streamWindow, send: this.opts.remote.streamWindow },
      Math.min(64 * 1024, this.opts.local.streamWindow),
    );
    this.streams.set(id, stream);
    return stream;
  }

  private creditConnection(n: number): void {
    if (n <= 0 || this.isClosed) return;
    const inc = this.connRecv.consume(n);
    if (inc > 0) this.enqueue(FrameType.WINDOW_UPDATE, 0, 0, encodeWindowUpdate(inc));
  }

  private protocolFailure(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const code = (err as { code?: string }).code === 'TUNNEL_PROTOCOL_TOO_LARGE' ? CloseCode.TOO_LARGE : CloseCode.PROTOCOL_ERROR;
    this.log.warn({ [F.code]: (err as { code?: string }).code ?? 'TUNNEL_PROTOCOL_ERROR', [F.reason]: message }, 'closing tunnel connection: protocol error');
    this.close(code, message);
  }

  private onHeartbeat(interval: number, ping: boolean): void {
    if (this.isClosed) return;
    if (this.now() - this.lastReceived > 2 * interval) {
      this.log.warn({ [F.reason]: `no frame for ${this.now() - this.lastReceived} ms` }, 'peer missed heartbeats; closing');
      this.close(CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      return;
    }
    if (ping) void this.ping();
    if (this.pendingPingAck) this.scheduleFlush(); // a held ACK goes out once the backlog has drained
  }

  // ---- sending ----------------------------------------------------------------------------------

  private enqueue(type: FrameType, flags: number, streamId: number, payload?: Buffer): void {
    if (this.isClosed) return;
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    const len = payload ? payload.length : 0;
    writeFrameHeader(header, 0, type, flags, streamId, len);
    this.batch.push(header);
    if (payload && len > 0) this.batch.push(payload);
    this.batchBytes += FRAME_HEADER_BYTES + len;
    if (this.batchBytes >= MAX_BATCH_BYTES) this.flush();
    else this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (!this.flushScheduled && !this.isClosed) this.flushScheduled = setImmediate(() => this.flush());
  }

  private flush(): void {
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
    const message = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    this.transport.send(message);
  }

  private onTransportClose(code: number, reason: string): void {
    if (this.closeInfo) return;
    this.finish({ code, reason, local: false });
  }

  private finish(info: CloseInfo): void {
    this.closeInfo = info;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = null;
    this.batch = [];
    this.batchBytes = 0;
    const err = new ConnectionClosedError(info.code, info.reason);
    for (const s of [...this.streams.values()]) s.onReset(err);
    this.streams.clear();
    this.blocked.clear();
    this.pings.clear();
    this.pendingPingAck = null;
    this.closedSubject.next(info);
    this.closedSubject.complete();
    this.goAwaySubject.complete();
    this.controlSubject.complete();
  }
}
