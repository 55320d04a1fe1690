import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Multiplexer, createLinkedTransportPair, type CloseInfo, type FrameTransport, type MuxStream } from '../../../src/mux';
import { silentLogger } from '../../../src/log';
import { CloseCode, ErrorCode, Flag, FrameType, decodeFrames, encodeFrame, type PeerSettings, type RequestHead } from '../../../src/protocol';

/**
 * Malformed and out-of-order input from the peer, fed as raw messages to a proxy-role Multiplexer
 * from the other end of a linked pair. Each case must end in a clean connection close with a
 * protocol close code and a reason, or a stream-level RST_STREAM, or (for input that happens to be
 * valid) be accepted with the connection still serving; never an exception out of the message
 * handler, never a hang. After each case the peer sends a PING probe: the transport is ordered, so
 * once the probe's ACK is back every earlier frame has been handled.
 *
 * Meanwhile a second, healthy pair serves a request per case: one bad peer does not disturb others.
 */

const SEED = 0x5eed;
/** Small limits so that "too large" is cheap to reach. */
const PX: PeerSettings = { maxFrameSize: 4096, streamWindow: 4096, connectionWindow: 16384, maxStreams: 8, maxHeaderBytes: 1024 };
const GW: PeerSettings = { maxFrameSize: 4096, streamWindow: 65536, connectionWindow: 1 << 20, maxStreams: 100, maxHeaderBytes: 65536 };
const MAX_TICKS = 500;

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const validHead: RequestHead = { rid: 'r1', server: 's', url: 'http://127.0.0.1/mcp', method: 'POST', headers: [['content-type', 'application/json']] };
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
};
/** A frame with an arbitrary (possibly unknown) type byte. */
const rawFrame = (type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer =>
  encodeFrame(type as FrameType, flags, streamId, payload);
const headers = (id: number, payload: Buffer = json(validHead), flags = 0): Buffer => encodeFrame(FrameType.HEADERS, flags, id, payload);
const data = (id: number, payload: Buffer, flags = 0): Buffer => encodeFrame(FrameType.DATA, flags, id, payload);

type Expected =
  | { kind: 'close'; code: number }
  | { kind: 'rst'; streamId: number; codes: number[] }
  /** Possibly valid input: a protocol close, an RST, or accepted with the connection still serving. */
  | { kind: 'any' };

interface Case {
  name: string;
  messages: Buffer[];
  expected: Expected;
}

interface Result {
  closed: CloseInfo | null;
  /** The close as the peer saw it. */
  peerClose: { code: number; reason: string } | null;
  rsts: Array<{ streamId: number; code: number }>;
  alive: boolean;
  thrown: unknown[];
  undecodable: unknown[];
}

/** A transport wrapper that catches anything the multiplexer throws out of its message handler. */
function guarded(inner: FrameTransport, thrown: unknown[]): FrameTransport {
  return {
    send: (m) => inner.send(m),
    close: (code, reason) => inner.close(code, reason),
    setHandler: (h) =>
      inner.setHandler({
        onMessage: (m) => {
          try {
            h.onMessage(m);
          } catch (err) {
            thrown.push(err);
          }
        },
        onClose: (code, reason) => h.onClose(code, reason),
      }),
    get bufferedAmount() {
      return inner.bufferedAmount;
    },
    remoteAddress: inner.remoteAddress,
  };
}

async function feed(messages: Buffer[]): Promise<Result> {
  const [peer, ours] = createLinkedTransportPair();
  const thrown: unknown[] = [];
  const mux = new Multiplexer(guarded(ours, thrown), { role: 'proxy', local: PX, remote: GW, logger: silentLogger() });
  // The application reads every request eagerly and answers, but never ends its responses, so a
  // stream the peer has ended is still open here.
  mux.onStream(({ stream }) => {
    stream.on('error', () => undefined);
    stream.resume();
    stream.respond({ status: 200, headers: [] });
  });
  let closed: CloseInfo | null = null;
  mux.closed$.subscribe((c) => (closed = c));
  const result: Result = { closed: null, peerClose: null, rsts: [], alive: false, thrown, undecodable: [] };
  const probe = randomBytes(8);
  peer.setHandler({
    onMessage: (m) => {
      try {
        for (const f of decodeFrames(m)) {
          if (f.type === FrameType.RST_STREAM) result.rsts.push({ streamId: f.streamId, code: f.payload.readUInt32BE(0) });
          if (f.type === FrameType.PING && f.flags & Flag.ACK && f.payload.equals(probe)) result.alive = true;
        }
      } catch (err) {
        result.undecodable.push(err);
      }
    },
    onClose: (code, reason) => (result.peerClose = { code, reason }),
  });
  for (const m of messages) peer.send(m);
  peer.send(encodeFrame(FrameType.PING, 0, 0, probe));
  let ticks = 0;
  while (!result.alive && result.peerClose === null) {
    if (++ticks > MAX_TICKS) throw new Error('hang: neither a close nor the PING probe answer');
    await tick();
  }
  result.closed = closed;
  mux.close();
  return result;
}

function check(c: Case, r: Result): void {
  expect(r.thrown).toEqual([]);
  expect(r.undecodable).toEqual([]);
  if (r.closed) {
    expect({ local: r.closed.local, protocolCode: [CloseCode.PROTOCOL_ERROR, CloseCode.TOO_LARGE].includes(r.closed.code as 4400 | 4413) }).toEqual({
      local: true,
      protocolCode: true,
    });
    expect(r.closed.reason.length).toBeGreaterThan(0);
    expect(r.peerClose).toEqual({ code: r.closed.code, reason: r.closed.reason });
  }
  const e = c.expected;
  switch (e.kind) {
    case 'close':
      expect({ name: c.name, code: r.closed?.code }).toEqual({ name: c.name, code: e.code });
      return;
    case 'rst':
      expect({ name: c.name, closed: r.closed, alive: r.alive }).toEqual({ name: c.name, closed: null, alive: true });
      expect(r.rsts.some((x) => x.streamId === e.streamId && e.codes.includes(x.code))).toBe(true);
      return;
    case 'any':
      expect(r.closed !== null || r.rsts.length > 0 || r.alive).toBe(true);
      return;
  }
}

// ---- case families --------------------------------------------------------------------------

const smallPayload = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));

/** Frames a well-behaved gateway could send first. */
const validFrame: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constant(headers(1)),
  fc.constant(headers(1, json(validHead), Flag.END_STREAM)),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((p) => encodeFrame(FrameType.PING, 0, 0, Buffer.from(p))),
  fc.integer({ min: 1, max: 1000 }).map((n) => encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(n))),
  fc.constant(encodeFrame(FrameType.CONTROL, 0, 0, json({ type: 'drain' }))),
  fc.constant(encodeFrame(FrameType.GOAWAY, 0, 0, Buffer.concat([u32(0), u32(0), Buffer.from('bye')]))),
);

/** Splits a list of frames into 1..n messages at random boundaries (frames never span messages). */
const asMessages = (frames: Buffer[]): fc.Arbitrary<Buffer[]> =>
  fc.array(fc.boolean(), { minLength: frames.length, maxLength: frames.length }).map((cuts) => {
    const out: Buffer[] = [];
    let cur: Buffer[] = [];
    frames.forEach((f, i) => {
      cur.push(f);
      if (cuts[i] || i === frames.length - 1) {
        out.push(Buffer.concat(cur));
        cur = [];
      }
    });
    return out;
  });

const close4400 = { kind: 'close', code: CloseCode.PROTOCOL_ERROR } as const;

const families: Record<string, fc.Arbitrary<Case>> = {
  truncated: fc
    .tuple(validFrame, fc.nat())
    .map(([f, n]) => ({ name: 'truncated frame', messages: [f.subarray(0, n % f.length)], expected: close4400 })),

  lengthTooLong: fc.tuple(validFrame, fc.integer({ min: 1, max: 0xffff })).map(([f, extra]) => {
    const m = Buffer.from(f);
    m.writeUInt32BE(m.readUInt32BE(6) + extra, 6);
    return { name: 'length beyond the message', messages: [m], expected: close4400 };
  }),

  // A shorter length leaves bytes that are read as the next frame header: anything may follow.
  lengthTooShort: fc
    .tuple(validFrame.filter((f) => f.length > 10), fc.nat())
    .map(([f, n]) => {
      const m = Buffer.from(f);
      const len = m.readUInt32BE(6);
      m.writeUInt32BE(n % len, 6);
      return { name: 'length short of the payload', messages: [m], expected: { kind: 'any' as const } };
    }),

  unknownType: fc
    .record({ type: fc.integer({ min: 7, max: 255 }), flags: fc.nat({ max: 255 }), id: fc.nat(), payload: smallPayload })
    .map((x) => ({ name: `unknown type ${x.type}`, messages: [rawFrame(x.type, x.flags, x.id, x.payload)], expected: close4400 })),

  streamIdOutOfRange: fc
    .record({ type: fc.constantFrom(FrameType.DATA, FrameType.HEADERS, FrameType.WINDOW_UPDATE, FrameType.RST_STREAM), id: fc.integer({ min: 0x80000000, max: 0xffffffff }) })
    .map((x) => ({ name: 'stream id with the reserved bit', messages: [rawFrame(x.type, 0, x.id, u32(1))], expected: close4400 })),

  oversizedControl: fc.integer({ min: PX.maxHeaderBytes + 1, max: PX.maxHeaderBytes + 4096 }).map((n) => ({
    name: 'CONTROL over maxHeaderBytes',
    messages: [encodeFrame(FrameType.CONTROL, 0, 0, Buffer.alloc(n, 0x20))],
    expected: { kind: 'close' as const, code: CloseCode.TOO_LARGE },
  })),

  controlOffStream0: fc.integer({ min: 1, max: 100 }).map((id) => ({
    name: 'CONTROL on a stream',
    messages: [encodeFrame(FrameType.CONTROL, 0, id, json({ type: 'x' }))],
    expected: close4400,
  })),

  badRequestHead: fc
    .oneof(
      smallPayload,
      fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
      fc.constantFrom('{', '[]', 'null', '42', '"str"', '{"rid":1}', '{}'),
      fc.constant(JSON.stringify({ ...validHead, method: 'get /' })),
      fc.constant(JSON.stringify({ ...validHead, headers: [['bad name', 'v']] })),
      fc.constant(JSON.stringify({ ...validHead, headers: [['x', 'a\r\nb']] })),
      fc.constant(JSON.stringify({ ...validHead, headers: 'nope' })),
      fc.constant(JSON.stringify({ ...validHead, url: 7 })),
    )
    .map((p) => ({
      name: 'malformed request head',
      messages: [headers(1, Buffer.isBuffer(p) ? p : Buffer.from(p))],
      expected: { kind: 'rst' as const, streamId: 1, codes: [ErrorCode.PROTOCOL_ERROR] },
    })),

  oversizedRequestHead: fc.integer({ min: 1, max: 4096 }).map((pad) => ({
    name: 'request head over maxHeaderBytes',
    messages: [headers(1, json({ ...validHead, url: `http://x/${'a'.repeat(PX.maxHeaderBytes + pad)}` }))],
    expected: { kind: 'rst' as const, streamId: 1, codes: [ErrorCode.FRAME_TOO_LARGE] },
  })),

  headersEvenId: fc.integer({ min: 1, max: 1000 }).map((k) => ({
    name: 'HEADERS with an even (proxy-owned) id from the gateway',
    messages: [headers(2 * k)],
    expected: close4400,
  })),

  headersStream0: fc
    .tuple(fc.constantFrom(0, Flag.END_STREAM), fc.oneof(fc.constant(json(validHead)), smallPayload))
    .map(([flags, p]) => ({ name: 'HEADERS on stream 0', messages: [headers(0, p, flags)], expected: close4400 })),

  secondHeaders: asMessages([headers(1), headers(1)]).map((messages) => ({
    name: 'second HEADERS on an open stream',
    messages,
    expected: { kind: 'rst' as const, streamId: 1, codes: [ErrorCode.PROTOCOL_ERROR] },
  })),

  dataOnIdleStream: fc
    .tuple(fc.oneof(fc.integer({ min: 0, max: 1000 }).map((k) => 2 * k + 1), fc.integer({ min: 1, max: 1000 }).map((k) => 2 * k)), smallPayload)
    .map(([id, p]) => ({ name: `DATA on idle stream ${id}`, messages: [data(id, p)], expected: close4400 })),

  dataOnStream0: smallPayload.map((p) => ({ name: 'DATA on stream 0', messages: [data(0, p)], expected: close4400 })),

  dataAfterEndStream: fc
    .tuple(smallPayload, fc.boolean(), fc.constantFrom(0, Flag.END_STREAM))
    .chain(([p, endOnHeaders, lastFlags]) =>
      asMessages(
        endOnHeaders
          ? [headers(1, json(validHead), Flag.END_STREAM), data(1, p, lastFlags)]
          : [headers(1), data(1, Buffer.from('body'), Flag.END_STREAM), data(1, p, lastFlags)],
      ),
    )
    .map((messages) => ({
      name: 'DATA after END_STREAM',
      messages,
      expected: { kind: 'rst' as const, streamId: 1, codes: [ErrorCode.PROTOCOL_ERROR] },
    })),

  streamWindowExceeded: fc.integer({ min: PX.streamWindow + 1, max: PX.connectionWindow }).chain((n) =>
    asMessages([headers(1), data(1, Buffer.alloc(n))]).map((messages) => ({
      name: 'DATA beyond the stream window',
      messages,
      expected: { kind: 'rst' as const, streamId: 1, codes: [ErrorCode.FLOW_CONTROL_ERROR] },
    })),
  ),

  connectionWindowExceeded: fc.integer({ min: PX.connectionWindow + 1, max: PX.connectionWindow + 4096 }).chain((n) =>
    asMessages([headers(1), data(1, Buffer.alloc(n))]).map((messages) => ({ name: 'DATA beyond the connection window', messages, expected: close4400 })),
  ),

  windowUpdateZero: fc.constantFrom(0, 1, 2, 3).map((id) => ({
    name: `WINDOW_UPDATE of 0 on stream ${id}`,
    messages: [encodeFrame(FrameType.WINDOW_UPDATE, 0, id, u32(0))],
    expected: close4400,
  })),

  windowUpdateBadSize: fc
    .tuple(fc.uint8Array({ maxLength: 16 }).filter((a) => a.length !== 4), fc.constantFrom(0, 1))
    .map(([p, id]) => ({ name: 'WINDOW_UPDATE payload not 4 bytes', messages: [encodeFrame(FrameType.WINDOW_UPDATE, 0, id, Buffer.from(p))], expected: close4400 })),

  windowUpdateTooBig: fc.integer({ min: 0x80000000, max: 0xffffffff }).map((inc) => ({
    name: 'WINDOW_UPDATE increment over 2^31-1',
    messages: [encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(inc))],
    expected: close4400,
  })),

  connectionWindowOverflow: fc.integer({ min: 0x7fffffff - GW.connectionWindow + 1, max: 0x7fffffff }).map((inc) => ({
    name: 'connection send window overflow',
    messages: [encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(inc))],
    expected: close4400,
  })),

  streamWindowOverflow: fc.integer({ min: 0x7fffffff - GW.streamWindow + 1, max: 0x7fffffff }).chain((inc) =>
    asMessages([headers(1), encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, u32(inc))]).map((messages) => ({
      name: 'stream send window overflow',
      messages,
      expected: { kind: 'rst' as const, streamId: 1, codes: [ErrorCode.FLOW_CONTROL_ERROR] },
    })),
  ),

  pingWrongSize: fc
    .uint8Array({ maxLength: 32 })
    .filter((a) => a.length !== 8)
    .chain((p) => fc.constantFrom(0, Flag.ACK).map((flags) => ({ name: `PING of ${p.length} bytes`, messages: [encodeFrame(FrameType.PING, flags, 0, Buffer.from(p))], expected: close4400 }))),

  pingOnStream: fc.integer({ min: 1, max: 1000 }).map((id) => ({
    name: 'PING on a stream',
    messages: [encodeFrame(FrameType.PING, 0, id, Buffer.alloc(8))],
    expected: close4400,
  })),

  rstShort: fc.tuple(fc.uint8Array({ maxLength: 3 }), fc.boolean()).chain(([p, open]) =>
    asMessages(open ? [headers(1), encodeFrame(FrameType.RST_STREAM, 0, 1, Buffer.from(p))] : [encodeFrame(FrameType.RST_STREAM, 0, 1, Buffer.from(p))]).map((messages) => ({
      name: 'RST_STREAM shorter than 4 bytes',
      messages,
      expected: close4400,
    })),
  ),

  rstStream0: fc.nat().map((code) => ({ name: 'RST_STREAM on stream 0', messages: [encodeFrame(FrameType.RST_STREAM, 0, 0, u32(code))], expected: close4400 })),

  goAwayBad: fc
    .oneof(
      fc.uint8Array({ maxLength: 7 }).map((p) => encodeFrame(FrameType.GOAWAY, 0, 0, Buffer.from(p))),
      fc.integer({ min: 1, max: 1000 }).map((id) => encodeFrame(FrameType.GOAWAY, 0, id, Buffer.alloc(8))),
    )
    .map((f) => ({ name: 'malformed GOAWAY', messages: [f], expected: close4400 })),
};

/** Syntactically valid frames with random types, flags, ids and payloads, in random order. */
const anyFrame: fc.Arbitrary<Buffer> = fc
  .record({
    type: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 5, 6) }, { weight: 1, arbitrary: fc.nat({ max: 255 }) }),
    flags: fc.constantFrom(0, 1, 0xff),
    id: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 1, 2, 3, 5) }, { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) }),
    payload: fc.oneof(
      smallPayload,
      fc.constant(json(validHead)),
      fc.integer({ min: 0, max: 0xffffffff }).map(u32),
      fc.uint8Array({ minLength: 8, maxLength: 8 }).map((a) => Buffer.from(a)),
      fc.integer({ min: 0, max: 20_000 }).map((n) => Buffer.alloc(n)),
    ),
  })
  .map((x) => rawFrame(x.type, x.flags, x.id, x.payload));

const randomBytesCase: fc.Arbitrary<Case> = fc
  .array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 3 })
  .map((ms) => ({ name: 'random bytes', messages: ms.map((m) => Buffer.from(m)), expected: { kind: 'any' } }));

const frameSequenceCase: fc.Arbitrary<Case> = fc
  .array(anyFrame, { minLength: 1, maxLength: 8 })
  .chain(asMessages)
  .map((messages) => ({ name: 'random frame sequence', messages, expected: { kind: 'any' } }));

// ---- the healthy neighbour ------------------------------------------------------------------

interface Healthy {
  g: Multiplexer;
  p: Multiplexer;
}

function healthyPair(): Healthy {
  const [a, b] = createLinkedTransportPair();
  const g = new Multiplexer(a, { role: 'gateway', local: GW, remote: GW, logger: silentLogger() });
  const p = new Multiplexer(b, { role: 'proxy', local: GW, remote: GW, logger: silentLogger() });
  p.onStream(({ stream }) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ status: 200, headers: [] });
      stream.end(Buffer.concat(chunks));
    });
  });
  return { g, p };
}

function echo(h: Healthy, text: string): Promise<string> {
  const s: MuxStream = h.g.openStream({ ...validHead, rid: text });
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
    s.on('error', reject);
    s.end(text);
  });
}

describe('malformed input from the peer', () => {
  let healthy: Healthy;
  let served = 0;
  beforeAll(() => {
    healthy = healthyPair();
  });
  afterAll(() => {
    healthy.g.close();
    healthy.p.close();
  });

  const runCase = async (c: Case): Promise<void> => {
    const text = `req-${served}`;
    const [result, answer] = await Promise.all([feed(c.messages), echo(healthy, text)]);
    check(c, result);
    expect(answer).toBe(text);
    served++;
  };

  const total = { runs: 0 };
  const assertFamily = async (arb: fc.Arbitrary<Case>, numRuns: number): Promise<void> => {
    total.runs += numRuns;
    await fc.assert(fc.asyncProperty(arb, runCase), { seed: SEED, numRuns });
  };

  it.each(Object.keys(families))('%s: closes with a protocol code or resets the stream, and the neighbour keeps serving', async (name) => {
    await assertFamily(families[name]!, 30);
  });

  it('random bytes: a protocol close, an RST, or accepted with the connection still serving', async () => {
    await assertFamily(randomBytesCase, 300);
  });

  it('random frame sequences (valid framing, random types, ids, flags and payloads): the same', async () => {
    await assertFamily(frameSequenceCase, 300);
  });

  it('the healthy neighbour served a request for every case and is still open', () => {
    expect(served).toBe(total.runs);
    expect(healthy.g.isClosed || healthy.p.isClosed).toBe(false);
    expect(healthy.g.activeStreams).toBe(0);
  });
});
