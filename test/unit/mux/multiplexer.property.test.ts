import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { Multiplexer, createLinkedTransportPair, growableStreamWindow, type MuxStream, type ReceiveWindow } from '../../../src/mux';
import { silentLogger } from '../../../src/log';
import { ErrorCode, type PeerSettings, type RequestHead } from '../../../src/protocol';
import { WireTap } from './wire-tap';

/**
 * End-to-end properties of a gateway-role and a proxy-role Multiplexer over a linked in-memory
 * pair, with small windows so that credit matters. Every frame is decoded on the way out and in
 * (WireTap) and checked against a model of the credit each side has been granted.
 *
 * Time is driven by a setImmediate loop ("ticks"); readers act once per tick. A run in which, for
 * {@link QUIET_TICKS} ticks, nothing is sent and no reader takes a byte or waits out a pause, is a
 * deadlock.
 */

const RUNS = { seed: 0x5eed, numRuns: 100 } as const;
const QUIET_TICKS = 400;
const MAX_TICKS = 200_000;

type Reader =
  | { kind: 'eager' }
  /** Reads up to sizes[i] bytes per tick, cycling through sizes. */
  | { kind: 'bursts'; sizes: number[] }
  /** Reads eagerly until it has `afterBytes`, pauses for `ticks`, then resumes. */
  | { kind: 'pause'; afterBytes: number; ticks: number }
  /** Never reads; resets the stream at tick `atTick` (destroy(), or resetWith CANCEL). */
  | { kind: 'reset'; atTick: number; how: 'destroy' | 'resetWith' }
  /** Never reads until every other stream is settled, then destroys the stream. */
  | { kind: 'stall' };

interface StreamSpec {
  request: { size: number; chunks: number[] };
  response: { size: number; chunks: number[] };
  /** Reads the request body at the proxy. */
  proxyReader: Reader;
  /** Reads the response body at the gateway. */
  gatewayReader: Reader;
}

interface Scenario {
  gw: PeerSettings;
  px: PeerSettings;
  streams: StreamSpec[];
  seed: number;
}

/**
 * Half the time the connection window is a small multiple of the stream window plus a little, so
 * that stalled streams can hold most of it (where batching credit is most likely to deadlock).
 */
const settingsArb: fc.Arbitrary<PeerSettings> = fc
  .record({
    maxFrameSize: fc.integer({ min: 1024, max: 16 * 1024 }),
    streamWindow: fc.integer({ min: 1024, max: 64 * 1024 }),
    connectionWindow: fc.integer({ min: 4 * 1024, max: 256 * 1024 }),
    multiple: fc.option(fc.integer({ min: 1, max: 4 }), { freq: 2 }),
    slack: fc.integer({ min: 1, max: 8192 }),
    maxStreams: fc.constant(100),
    maxHeaderBytes: fc.constant(65536),
  })
  .map(({ multiple, slack, ...s }) => ({
    ...s,
    connectionWindow:
      multiple === null ? s.connectionWindow : Math.min(256 * 1024, Math.max(4 * 1024, multiple * s.streamWindow + slack)),
  }));

const readerArb: fc.Arbitrary<Reader> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'eager' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('bursts' as const), sizes: fc.array(fc.integer({ min: 256, max: 20_000 }), { minLength: 1, maxLength: 4 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('pause' as const), afterBytes: fc.nat({ max: 80_000 }), ticks: fc.integer({ min: 1, max: 60 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('reset' as const),
      atTick: fc.nat({ max: 200 }),
      how: fc.constantFrom('destroy' as const, 'resetWith' as const),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'stall' as const }) },
);

/** Body sizes: small, a few windows of the receiver (where credit matters most), or anything. */
const bodyArb = (receiverWindow: number) =>
  fc.record({
    size: fc.oneof(fc.nat({ max: 4096 }), fc.nat({ max: 3 * receiverWindow }), fc.nat({ max: 150_000 })),
    chunks: fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 4 }),
  });

/**
 * Stalled readers only while stalled × (the window a stream may grow to) < connectionWindow at the
 * receiving side (beyond that the others are entitled to wait); extra ones read eagerly instead.
 */
function limitStalls(streams: StreamSpec[], gw: PeerSettings, px: PeerSettings): StreamSpec[] {
  let proxyStalls = 0;
  let gatewayStalls = 0;
  return streams.map((s) => {
    let { proxyReader, gatewayReader } = s;
    if (proxyReader.kind === 'stall') {
      if ((proxyStalls + 1) * growableStreamWindow(px) < px.connectionWindow) proxyStalls++;
      else proxyReader = { kind: 'eager' };
    }
    if (gatewayReader.kind === 'stall') {
      if ((gatewayStalls + 1) * growableStreamWindow(gw) < gw.connectionWindow) gatewayStalls++;
      else gatewayReader = { kind: 'eager' };
    }
    return { ...s, proxyReader, gatewayReader };
  });
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ gw: settingsArb, px: settingsArb, seed: fc.nat() })
  .chain(({ gw, px, seed }) =>
    fc.record({
      gw: fc.constant(gw),
      px: fc.constant(px),
      seed: fc.constant(seed),
      streams: fc.array(
        fc.record({ request: bodyArb(px.streamWindow), response: bodyArb(gw.streamWindow), proxyReader: readerArb, gatewayReader: readerArb }),
        { minLength: 1, maxLength: 8 },
      ),
    }),
  )
  .map((s) => ({ ...s, streams: limitStalls(s.streams, s.gw, s.px) }));

/** Deterministic pseudo-random body bytes (AES-CTR keystream), so a misordered or duplicated frame shows. */
function body(size: number, seed: number): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(seed >>> 0, 0);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

const highWaterMark = (s: PeerSettings): number => Math.min(64 * 1024, s.streamWindow);

type Outcome = 'complete' | 'reset';

/** Drives one reader behaviour over the readable side of a stream. */
class ReadDriver {
  private readonly chunks: Buffer[] = [];
  bytes = 0;
  outcome: Outcome | null = null;
  private pausedFor = 0;
  private paused = false;
  private burst = 0;
  private progressed = false;

  constructor(
    readonly stream: MuxStream,
    readonly behaviour: Reader,
    readonly expected: Buffer,
    /** Stall readers give up once this returns true. */
    private readonly othersSettled: () => boolean,
  ) {
    stream.once('end', () => (this.outcome ??= 'complete'));
    stream.once('close', () => (this.outcome ??= 'reset'));
    stream.on('error', () => undefined);
    if (behaviour.kind === 'eager' || behaviour.kind === 'pause') {
      stream.on('data', (c: Buffer) => {
        this.take(c);
        if (behaviour.kind === 'pause' && !this.paused && this.bytes >= behaviour.afterBytes) {
          this.paused = true;
          this.pausedFor = behaviour.ticks;
          stream.pause();
        }
      });
    }
  }

  /** True while a pause is counting down (the wire may legitimately be quiet). */
  get waiting(): boolean {
    return this.pausedFor > 0;
  }

  private take(c: Buffer): void {
    this.chunks.push(c);
    this.bytes += c.length;
    this.progressed = true;
  }

  /** Whether the reader took any bytes since the last call (reading is progress even on a quiet wire). */
  takeProgress(): boolean {
    const p = this.progressed;
    this.progressed = false;
    return p;
  }

  tick(tick: number): void {
    if (this.outcome !== null || this.stream.destroyed) return;
    const b = this.behaviour;
    switch (b.kind) {
      case 'eager':
        return;
      case 'pause':
        if (this.pausedFor > 0 && --this.pausedFor === 0) this.stream.resume();
        return;
      case 'bursts': {
        let budget = b.sizes[this.burst++ % b.sizes.length]!;
        while (budget > 0 && this.stream.readableLength > 0) {
          const c = this.stream.read(Math.min(budget, this.stream.readableLength)) as Buffer | null;
          if (c === null) break;
          this.take(c);
          budget -= c.length;
        }
        // With the buffer empty, read(0) lets the stream ask for more and notice its end.
        if (this.stream.readableLength === 0) this.stream.read(0);
        return;
      }
      case 'reset':
        if (tick >= b.atTick) {
          if (b.how === 'destroy') this.stream.destroy();
          else this.stream.resetWith(ErrorCode.CANCEL, 'test reset');
        }
        return;
      case 'stall':
        if (this.othersSettled()) this.stream.destroy();
        return;
    }
  }

  /** What arrived is always a prefix of what was sent, and all of it when the stream completed. */
  check(what: string): void {
    const got = Buffer.concat(this.chunks);
    if (!got.equals(this.expected.subarray(0, got.length))) throw new Error(`${what}: received bytes are not a prefix of the body`);
    if (this.outcome === 'complete' && got.length !== this.expected.length) {
      throw new Error(`${what}: ended after ${got.length} of ${this.expected.length} bytes`);
    }
  }
}

function waitDrain(s: MuxStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/** Writes a body in the given chunking, respecting backpressure; stops if the stream dies. */
async function writeBody(s: MuxStream, data: Buffer, chunks: number[]): Promise<void> {
  let off = 0;
  let i = 0;
  while (off < data.length) {
    if (s.destroyed) return;
    const n = Math.min(chunks[i++ % chunks.length]!, data.length - off);
    const ok = s.write(data.subarray(off, off + n));
    off += n;
    if (!ok && !s.destroyed) await waitDrain(s);
  }
  if (!s.destroyed) s.end();
}

const baseHead: RequestHead = { rid: 'r', server: 's', url: 'http://127.0.0.1/mcp', method: 'POST', headers: [] };
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

interface Pair {
  g: Multiplexer;
  p: Multiplexer;
  gTap: WireTap;
  pTap: WireTap;
}

function linkedPair(gw: PeerSettings, px: PeerSettings): Pair {
  const [a, b] = createLinkedTransportPair();
  const gTap = new WireTap('gateway', a, px);
  const pTap = new WireTap('proxy', b, gw);
  const g = new Multiplexer(gTap.transport, { role: 'gateway', local: gw, remote: px, logger: silentLogger() });
  const p = new Multiplexer(pTap.transport, { role: 'proxy', local: px, remote: gw, logger: silentLogger() });
  return { g, p, gTap, pTap };
}

function assertNoViolations(pair: Pair): void {
  const v = [...pair.gTap.violations, ...pair.pTap.violations];
  if (v.length > 0) throw new Error(`wire violations:\n${v.slice(0, 10).join('\n')}`);
}

/** Ticks until the wire has been quiet for `quiet` ticks (all frames delivered and answered). */
async function quiesce(pair: Pair, quiet = 10): Promise<void> {
  let last = -1;
  let still = 0;
  while (still < quiet) {
    await tick();
    const sent = pair.gTap.messagesSent + pair.pTap.messagesSent;
    still = sent === last ? still + 1 : 0;
    last = sent;
  }
}

/** Ticks until `done()`; a wire quiet for QUIET_TICKS before that is a deadlock. */
async function until(pair: Pair, done: () => boolean, what: string): Promise<void> {
  let quiet = 0;
  let last = -1;
  while (!done()) {
    await tick();
    const sent = pair.gTap.messagesSent + pair.pTap.messagesSent;
    quiet = sent === last ? quiet + 1 : 0;
    last = sent;
    if (quiet > QUIET_TICKS) {
      throw new Error(`deadlock: ${what} (gateway conn credit ${pair.gTap.connCredit}, proxy conn credit ${pair.pTap.connCredit})`);
    }
  }
}

/** Sends `size` bytes each way on a fresh stream, read eagerly on both ends. */
async function bigTransfer(pair: Pair, size: number): Promise<void> {
  const req = body(size, 1);
  const res = body(size, 2);
  const got = new Promise<Buffer>((resolve, reject) => {
    pair.p.onStream(({ stream }) => {
      stream.on('error', reject);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve(Buffer.concat(chunks)));
      stream.respond({ status: 200, headers: [] });
      void writeBody(stream, res, [16384]);
    });
  });
  const s = pair.g.openStream({ ...baseHead, rid: 'big' });
  const echoed = new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('error', reject);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
  });
  void writeBody(s, req, [16384]);
  let done = false;
  const both = Promise.all([got, echoed]).finally(() => (done = true));
  both.catch(() => undefined);
  await until(pair, () => done, 'large transfer stuck');
  const [gotReq, gotRes] = await both.catch((err: unknown) => {
    assertNoViolations(pair); // a wire violation explains a failed transfer better than its symptom
    throw err;
  });
  if (!gotReq.equals(req) || !gotRes.equals(res)) throw new Error('large transfer corrupted');
}

/**
 * Every byte of connection credit a side withholds must sit unread in one of its streams' buffers,
 * bar one batch below the threshold: credit withheld for bytes the application has already taken
 * is a leak, and enough of it starves every stream on the connection. (Exact for stream windows of
 * at most 64 KiB, where the readable high-water mark equals the window. Reads the multiplexer's
 * private receive window: the wire alone cannot tell withheld credit from a batch about to flush.)
 */
function checkCreditBacked(side: string, mux: Multiplexer, local: PeerSettings, streams: MuxStream[]): void {
  const connRecv = (mux as unknown as { connRecv: ReceiveWindow }).connRecv;
  const withheld = local.connectionWindow - connRecv.remaining;
  const buffered = streams.reduce((a, st) => a + st.readableLength, 0);
  const batch = Math.max(1, Math.floor(local.connectionWindow / 4));
  if (withheld > buffered + batch - 1) {
    throw new Error(`${side} withholds ${withheld} bytes of connection credit with only ${buffered} bytes buffered`);
  }
}

async function runScenario(sc: Scenario): Promise<void> {
  const pair = linkedPair(sc.gw, sc.px);
  const { g, p } = pair;
  const proxyReaders: Array<ReadDriver | undefined> = [];
  const gatewayReaders: ReadDriver[] = [];
  const writers: Array<Promise<void>> = [];
  const isStall = (j: number) => sc.streams[j]!.proxyReader.kind === 'stall' || sc.streams[j]!.gatewayReader.kind === 'stall';
  const streamSettled = (j: number) => proxyReaders[j]?.outcome != null && gatewayReaders[j]?.outcome != null;
  /** Stall readers wait for every stream without a stalled reader to be settled both ways. */
  const othersSettled = () => sc.streams.every((_, j) => isStall(j) || streamSettled(j));
  const bodies = sc.streams.map((_, i) => ({ req: body(sc.streams[i]!.request.size, sc.seed + 2 * i), res: body(sc.streams[i]!.response.size, sc.seed + 2 * i + 1) }));
  const gatewayStreams: MuxStream[] = [];
  const proxyStreams: MuxStream[] = [];

  p.onStream(({ stream, head }) => {
    const i = Number(head.rid);
    const spec = sc.streams[i]!;
    proxyReaders[i] = new ReadDriver(stream, spec.proxyReader, bodies[i]!.req, othersSettled);
    proxyStreams.push(stream);
    const res = bodies[i]!.res;
    if (res.length === 0) {
      stream.respond({ status: 200, headers: [] }, { endStream: true });
    } else {
      stream.respond({ status: 200, headers: [] });
      writers.push(writeBody(stream, res, spec.response.chunks));
    }
  });

  sc.streams.forEach((spec, i) => {
    const req = bodies[i]!.req;
    const s = g.openStream({ ...baseHead, rid: String(i) }, { endStream: req.length === 0 });
    gatewayReaders[i] = new ReadDriver(s, spec.gatewayReader, bodies[i]!.res, othersSettled);
    gatewayStreams.push(s);
    if (req.length > 0) writers.push(writeBody(s, req, spec.request.chunks));
  });

  const readers = (): ReadDriver[] => [...gatewayReaders, ...proxyReaders.filter((r): r is ReadDriver => r !== undefined)];
  let tickNo = 0;
  let lastSent = -1;
  let wireQuietSince = 0;
  let lastBusy = 0;
  while (!sc.streams.every((_, j) => streamSettled(j))) {
    await tick();
    tickNo++;
    const sent = pair.gTap.messagesSent + pair.pTap.messagesSent;
    if (sent !== lastSent) {
      lastSent = sent;
      wireQuietSince = tickNo;
    }
    if (readers().filter((r) => r.takeProgress() || r.waiting).length > 0) lastBusy = tickNo;
    if (tickNo - Math.max(wireQuietSince, lastBusy) > QUIET_TICKS || tickNo > MAX_TICKS) {
      const stuck = readers()
        .filter((r) => r.outcome === null)
        .map((r) => `${r.behaviour.kind} ${r.bytes}/${r.expected.length}`);
      throw new Error(
        `deadlock at tick ${tickNo}: unsettled readers [${stuck.join(', ')}]; gateway conn credit ${pair.gTap.connCredit}, proxy conn credit ${pair.pTap.connCredit}`,
      );
    }
    for (const r of readers()) r.tick(tickNo);
    // Bounded buffering: what a receiver holds for a stream never exceeds its window (as grown while
    // its reader kept up, never past growableStreamWindow) plus one readable buffer (bytes it has
    // credited sit below the high-water mark).
    for (const [streams, local, side] of [[gatewayStreams, sc.gw, 'gateway'], [proxyStreams, sc.px, 'proxy']] as const) {
      for (const st of streams) {
        if (st.recvWindow.size > growableStreamWindow(local)) throw new Error(`${side} stream ${st.id} window grew to ${st.recvWindow.size}`);
        const limit = st.recvWindow.size + highWaterMark(local);
        if (st.readableLength > limit) throw new Error(`${side} stream ${st.id} buffers ${st.readableLength} bytes; limit ${limit}`);
      }
    }
    checkCreditBacked('gateway', g, sc.gw, gatewayStreams);
    checkCreditBacked('proxy', p, sc.px, proxyStreams);
    assertNoViolations(pair);
  }
  assertNoViolations(pair);
  sc.streams.forEach((spec, i) => {
    const both = [gatewayReaders[i]!, proxyReaders[i]!];
    both.forEach((r) => r.check(`stream ${i}`));
    // Every stream that nobody resets is read to its end, both ways, whatever the others do.
    if (!isResetting(spec) && both.some((r) => r.outcome !== 'complete')) throw new Error(`stream ${i} (no reset on either side) did not complete`);
  });
  await Promise.all(writers);

  // Credit is fully returned: once the wire is quiet, all that is outstanding on each direction is
  // at most a batch of credit the receiver has yet to announce (below a quarter window).
  await quiesce(pair);
  assertNoViolations(pair);
  const gwOutstanding = sc.px.connectionWindow - pair.gTap.connCredit;
  const pxOutstanding = sc.gw.connectionWindow - pair.pTap.connCredit;
  if (gwOutstanding >= Math.max(1, Math.floor(sc.px.connectionWindow / 4))) throw new Error(`gateway→proxy: ${gwOutstanding} bytes of connection credit never returned`);
  if (pxOutstanding >= Math.max(1, Math.floor(sc.gw.connectionWindow / 4))) throw new Error(`proxy→gateway: ${pxOutstanding} bytes of connection credit never returned`);
  expect(g.activeStreams).toBe(0);
  expect(p.activeStreams).toBe(0);
  // And a transfer of more than a connection window each way still completes.
  await bigTransfer(pair, 2 * Math.max(sc.gw.connectionWindow, sc.px.connectionWindow));
  assertNoViolations(pair);
  g.close();
  p.close();
  await tick();
}

function isResetting(s: StreamSpec): boolean {
  const r = (x: Reader) => x.kind === 'reset' || x.kind === 'stall';
  return r(s.proxyReader) || r(s.gatewayReader);
}

describe('Multiplexer properties (random streams, bodies, chunkings and readers)', () => {
  it('every read stream completes intact, buffers stay within the windows, no DATA beyond granted credit, no frame after RST, and credit comes back', async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, runScenario), RUNS);
  });

  it('stalled streams at the documented limit do not starve another stream (regression: quarter-window batching deadlock)', async () => {
    const px: PeerSettings = { maxFrameSize: 4096, streamWindow: 20480, connectionWindow: 65536, maxStreams: 100, maxHeaderBytes: 65536 };
    await runScenario({
      gw: px,
      px,
      seed: 7,
      streams: [
        ...[0, 1, 2].map(() => ({
          request: { size: 60_000, chunks: [4096] },
          response: { size: 0, chunks: [1] },
          proxyReader: { kind: 'stall' as const },
          gatewayReader: { kind: 'eager' as const },
        })),
        { request: { size: 300_000, chunks: [8192] }, response: { size: 10, chunks: [10] }, proxyReader: { kind: 'eager' }, gatewayReader: { kind: 'eager' } },
      ],
    });
  });

  it('request bodies read after their END_STREAM give back connection credit while the response is still open (regression)', async () => {
    const s: PeerSettings = { maxFrameSize: 4096, streamWindow: 32768, connectionWindow: 65536, maxStreams: 100, maxHeaderBytes: 65536 };
    const pair = linkedPair(s, s);
    const held: MuxStream[] = [];
    pair.p.onStream(({ stream }) => {
      // Read the body only once all of it (and its END_STREAM) is buffered; keep the response open.
      stream.on('error', () => undefined);
      stream.respond({ status: 200, headers: [] });
      held.push(stream);
    });
    for (let i = 0; i < 4; i++) {
      const st = pair.g.openStream({ ...baseHead, rid: String(i) });
      st.on('error', () => undefined);
      st.end(Buffer.alloc(48_000));
    }
    await quiesce(pair, 20);
    let count = 0;
    for (const st of held) {
      st.on('data', () => undefined);
      st.once('end', () => count++);
    }
    await until(pair, () => count === 4, 'request bodies not delivered');
    await quiesce(pair);
    // The four responses are still open, yet their request bytes have all been credited back.
    expect(s.connectionWindow - pair.gTap.connCredit).toBeLessThan(s.connectionWindow / 4);
    await bigTransfer(pair, 4 * s.connectionWindow);
    assertNoViolations(pair);
    pair.g.close();
    pair.p.close();
  });
});
