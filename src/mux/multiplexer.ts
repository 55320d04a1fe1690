import {
  ErrorCode,
  Flag,
  FrameType,
  HeaderProtocolError,
  ProtocolError,
  TooLargeError,
  closeCodeOf,
  decodeFrames,
  decodeGoAway,
  decodeRst,
  decodeWindowUpdate,
  encodeCodeReason,
  encodeWindowUpdate,
  errorCodeName,
  parseRequestHead,
  parseResponseHead,
  wireCodeOf,
  type Frame,
  type RequestHead,
  type ResponseHead,
} from '../protocol';
import { F } from '../log';
import { MultiplexerCore } from './core';
import type { MuxStream } from './stream';
import { noteForwardedBytes } from '../young-gc';
import { BadResponseHeadError, StreamProtocolError, StreamResetError } from './errors';

export { REPLY_BACKLOG_SLACK_BYTES } from './frame-writer';
export type { CloseInfo, GoAwayInfo, IncomingStream, MultiplexerOptions } from './types';

/**
 * Many concurrent request streams over one FrameTransport, with per-stream and
 * per-connection credit-based flow control, coalesced writes, heartbeats and GOAWAY.
 * See docs/protocol.md for the wire format this implements. This file is the receiving half
 * (frame dispatch, peer-error handling); state, sending and lifecycle are in core.ts.
 */
export class Multiplexer extends MultiplexerCore {
  // ---- receiving --------------------------------------------------------------------------------

  protected override onMessage(message: Buffer): void {
    if (this.isClosed) return;
    this.liveness.received();
    this.writer.retryHeldAck(); // an ACK held while the peer was not reading: try again
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

  protected onFrame(f: Frame): void {
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
        // Answers are coalesced (FrameWriter): a PING flood queues one ACK, not one each.
        if (f.flags & Flag.ACK) this.liveness.acked(f.payload);
        else this.writer.ackPing(f.payload);
        return;
      }
      case FrameType.GOAWAY: {
        if (f.streamId !== 0) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', 'GOAWAY must be on stream 0');
        const info = decodeGoAway(f.payload);
        this.remoteGoAway = info;
        this.log.info({ [F.code]: errorCodeName(info.code), [F.reason]: info.reason }, 'peer sent GOAWAY');
        this.goAwaySubject.next(info);
        this.markDraining();
        return;
      }
      case FrameType.CONTROL: {
        if (f.streamId !== 0) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', 'CONTROL must be on stream 0');
        if (f.payload.length > this.opts.local.maxHeaderBytes) {
          throw new TooLargeError('control message too large');
        }
        this.controlSubject.next(f.payload);
        return;
      }
    }
  }

  /**
   * Called before queueing a frame that answers the peer's frame (an automatic RST_STREAM): a peer
   * that does not read our replies but keeps provoking them is flooding us.
   * @throws ProtocolError `TUNNEL_PROTOCOL_FLOOD`.
   */
  protected checkReplyBacklog(): void {
    if (this.writer.replyBacklogged) {
      throw new ProtocolError('TUNNEL_PROTOCOL_FLOOD', 'peer provokes replies but does not read them (control frame flood)');
    }
  }

  protected requireStream(f: Frame): void {
    if (f.streamId === 0) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_FRAME', `frame type ${f.type} needs a stream id`);
  }

  protected onDataFrame(f: Frame): void {
    this.requireStream(f);
    const n = f.payload.length;
    if (!this.connRecv.receive(n)) {
      throw new ProtocolError('TUNNEL_PROTOCOL_FLOW_CONTROL', `peer exceeded the connection window by sending ${n} bytes`);
    }
    this.bytesIn += n;
    noteForwardedBytes(n);
    this.deliverData(f);
    // This frame may have taken the peer's last credit while consumed bytes wait in the batch: if
    // other streams' readers are stalled, no further consumption would ever flush them.
    const due = this.connRecv.poll();
    if (due > 0) this.enqueue(FrameType.WINDOW_UPDATE, 0, 0, encodeWindowUpdate(due));
  }

  protected deliverData(f: Frame): void {
    const n = f.payload.length;
    const s = this.streams.get(f.streamId);
    if (!s) {
      // Late data for a stream we already reset or finished: drop it but return the credit.
      if (!this.streams.isKnown(f.streamId)) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_STREAM', `DATA on idle stream ${f.streamId}`);
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

  protected onHeadersFrame(f: Frame): void {
    this.requireStream(f);
    const end = (f.flags & Flag.END_STREAM) !== 0;
    const existing = this.streams.get(f.streamId);
    if (this.opts.role === 'gateway') {
      // Only responses arrive here.
      if (!existing) {
        if (!this.streams.isKnown(f.streamId)) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_STREAM', `HEADERS on idle stream ${f.streamId}`);
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
    if (this.streams.acceptRemoteId(f.streamId) === 'closed') return; // a stream we already closed
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
      this.log.warn({ [F.stream]: f.streamId, [F.reason]: (err as Error).message }, 'rejected malformed request head');
      return refuse(wireCodeOf(err), (err as Error).message);
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
  protected resetForPeerError(stream: MuxStream, code: number, reason: string): void {
    this.checkReplyBacklog();
    stream.resetWith(code, reason, new StreamProtocolError(code, reason));
  }

  /**
   * Runs application code (stream handler, 'response'/'data' listeners). If it throws, that is our
   * bug, not the peer's: reset only this stream and log, instead of closing the whole connection
   * with a protocol error.
   */
  protected appCall(stream: MuxStream, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ [F.stream]: stream.id, [F.err]: err instanceof Error ? err.message : String(err) }, 'stream handler threw; resetting the stream');
      stream.resetWith(ErrorCode.INTERNAL_ERROR, 'internal error', new StreamProtocolError(ErrorCode.INTERNAL_ERROR, 'internal error'));
    }
  }

  protected protocolFailure(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const code = closeCodeOf(err);
    this.log.warn({ [F.code]: (err as { code?: string }).code ?? 'TUNNEL_PROTOCOL_ERROR', [F.reason]: message }, 'closing tunnel connection: protocol error');
    this.close(code, message);
  }
}
