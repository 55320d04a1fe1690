/**
 * Issue 8, defect 13: frames the multiplexer answers on its own (PING → ACK, a refused or broken
 * stream → RST_STREAM) must not pile up in its send queue when a peer provokes them faster than it
 * reads them. A fake transport stands in for a peer that never reads: everything sent stays
 * "buffered", exactly like `ws.bufferedAmount` on a socket whose peer does not read.
 */
import { Multiplexer, REPLY_BACKLOG_SLACK_BYTES, type FrameTransport, type TransportHandler } from '../../../src/mux';
import { silentLogger } from '../../../src/log';
import { CloseCode, Flag, FrameType, decodeFrames, encodeFrame, encodeJson, type PeerSettings } from '../../../src/protocol';

const settings: PeerSettings = { maxFrameSize: 16384, streamWindow: 65536, connectionWindow: 1 << 20, maxStreams: 4, maxHeaderBytes: 65536 };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A peer on the other end of a transport: it injects frames and may or may not read what we send. */
class StuckPeer implements FrameTransport {
  handler: TransportHandler | null = null;
  readonly sent: Buffer[] = [];
  /** Simulated bytes accepted by `send` but not yet written (the peer is not reading). */
  bufferedAmount = 0;
  reading = false;
  closed: { code: number; reason: string } | null = null;
  readonly remoteAddress = 'stuck-peer';
  send(message: Buffer): void {
    this.sent.push(message);
    if (!this.reading) this.bufferedAmount += message.length;
  }
  close(code: number, reason: string): void {
    this.closed ??= { code, reason };
  }
  setHandler(h: TransportHandler): void {
    this.handler = h;
  }
  inject(...frames: Buffer[]): void {
    this.handler?.onMessage(Buffer.concat(frames));
  }
  framesSent(type: number): Array<{ flags: number; payload: Buffer; streamId: number }> {
    return this.sent.flatMap((m) => decodeFrames(m)).filter((f) => f.type === type);
  }
}

const ping = (i: number): Buffer => {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(i, 4);
  return encodeFrame(FrameType.PING, 0, 0, p);
};

describe('automatic replies are bounded (regression: one PING ACK queued per PING, without bound)', () => {
  const muxes: Multiplexer[] = [];
  afterEach(() => {
    for (const m of muxes.splice(0)) m.close();
  });
  const make = (role: 'gateway' | 'proxy', t: StuckPeer): Multiplexer => {
    const m = new Multiplexer(t, { role, local: settings, remote: settings, logger: silentLogger() });
    muxes.push(m);
    return m;
  };

  it('a flood of 100,000 PINGs in 1,000 messages queues one ACK per write, with the latest payload', async () => {
    const t = new StuckPeer();
    const m = make('gateway', t);
    for (let msg = 0; msg < 1000; msg++) t.inject(...Array.from({ length: 100 }, (_, j) => ping(msg * 100 + j)));
    await tick();
    await tick();
    const acks = t.framesSent(FrameType.PING).filter((f) => f.flags & Flag.ACK);
    expect(acks).toHaveLength(1);
    expect(acks[0]!.payload.readUInt32BE(4)).toBe(99_999);
    expect(m.isClosed).toBe(false);
  });

  it('while the peer reads nothing, no ACK is queued past the backlog limit; one goes out once it reads again', async () => {
    const t = new StuckPeer();
    const m = make('proxy', t);
    t.bufferedAmount = settings.connectionWindow + REPLY_BACKLOG_SLACK_BYTES + 1;
    for (let round = 0; round < 50; round++) {
      t.inject(ping(round), ping(round + 1000));
      await tick();
    }
    expect(t.framesSent(FrameType.PING).filter((f) => f.flags & Flag.ACK)).toHaveLength(0);
    // The peer catches up; its next frame lets the held ACK (the latest PING's) go out.
    t.bufferedAmount = 0;
    t.reading = true;
    t.inject(encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, Buffer.from([0, 0, 0, 1])));
    await tick();
    const acks = t.framesSent(FrameType.PING).filter((f) => f.flags & Flag.ACK);
    expect(acks.map((a) => a.payload.readUInt32BE(4))).toEqual([1049]);
    expect(m.isClosed).toBe(false);
  });

  it('a peer that opens streams to be refused while reading nothing is closed as a flood (TUNNEL_PROTOCOL_FLOOD), not queued without bound', async () => {
    const t = new StuckPeer();
    const m = make('proxy', t); // no stream handler: every stream is refused with RST_STREAM
    const head = encodeJson({ rid: 'r', server: 's', url: 'http://127.0.0.1/', method: 'GET', headers: [] });
    let id = 1;
    for (let i = 0; i < 100; i++, id += 2) t.inject(encodeFrame(FrameType.HEADERS, Flag.END_STREAM, id, head));
    await tick();
    expect(t.framesSent(FrameType.RST_STREAM)).toHaveLength(100); // a peer that reads gets every answer
    t.bufferedAmount = settings.connectionWindow + REPLY_BACKLOG_SLACK_BYTES + 1;
    for (let i = 0; i < 100_000 && !m.isClosed; i++, id += 2) t.inject(encodeFrame(FrameType.HEADERS, Flag.END_STREAM, id, head));
    expect(m.isClosed).toBe(true);
    expect(t.closed).toEqual({ code: CloseCode.PROTOCOL_ERROR, reason: expect.stringContaining('flood') });
    expect(t.framesSent(FrameType.RST_STREAM)).toHaveLength(100);
  });

  it('one ACK answers every PING sent before it (a coalescing peer): no ping() is left pending', async () => {
    const t = new StuckPeer();
    t.reading = true;
    const m = make('gateway', t);
    const rtts = [m.ping(), m.ping(), m.ping()];
    await tick();
    const pings = t.framesSent(FrameType.PING);
    expect(pings).toHaveLength(3);
    t.inject(encodeFrame(FrameType.PING, Flag.ACK, 0, pings[2]!.payload));
    await expect(Promise.all(rtts)).resolves.toHaveLength(3);
  });
});
