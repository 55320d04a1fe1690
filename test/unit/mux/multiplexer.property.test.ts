import { createCipheriv } from 'node:crypto';
import fc from 'fast-check';
import { Multiplexer, createLinkedTransportPair, type MuxStream } from '../../../src/mux';
import { silentLogger } from '../../../src/log';
import { ErrorCode, type PeerSettings, type RequestHead } from '../../../src/protocol';
import { WireTap } from './wire-tap';

/**
 * End-to-end properties of a gateway-role and a proxy-role Multiplexer over a linked in-memory
 * pair, with small windows so that credit matters. Every frame is decoded on the way out and in
 * (WireTap) and checked against a model of the credit each side has been granted.
 *
 * Time is driven by a setImmediate loop ("ticks"); readers act once per tick. A run that sends
 * nothing for {@link QUIET_TICKS} ticks while no reader is waiting out a pause is a deadlock.
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

const settingsArb: fc.Arbitrary<PeerSettings> = fc.record({
  maxFrameSize: fc.integer({ min: 1024, max: 16 * 1024 }),
  streamWindow: fc.integer({ min: 1024, max: 64 * 1024 }),
  connectionWindow: fc.integer({ min: 4 * 1024, max: 256 * 1024 }),
  maxStreams: fc.constant(100),
  maxHeaderBytes: fc.constant(65536),
});

const readerArb: fc.Arbitrary<Reader> = fc.oneof(
  fc.constant({ kind: 'eager' as const }),
  fc.record({ kind: fc.constant('bursts' as const), sizes: fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 4 }) }),
  fc.record({ kind: fc.constant('pause' as const), afterBytes: fc.nat({ max: 80_000 }), ticks: fc.integer({ min: 1, max: 60 }) }),
  fc.record({
    kind: fc.constant('reset' as const),
    atTick: fc.nat({ max: 200 }),
    how: fc.constantFrom('destroy' as const, 'resetWith' as const),
  }),
  fc.constant({ kind: 'stall' as const }),
);

const bodyArb = fc.record({
  size: fc.oneof(fc.nat({ max: 4096 }), fc.nat({ max: 150_000 })),
  chunks: fc.array(fc.integer({ min: 1, max: 40_000 }), { minLength: 1, maxLength: 4 }),
});

/**
 * Stalled readers only while stalled × streamWindow < connectionWindow at the receiving side
 * (beyond that the others are entitled to wait); extra ones read eagerly instead.
 */
function limitStalls(streams: StreamSpec[], gw: PeerSettings, px: PeerSettings): StreamSpec[] {
  let proxyStalls = 0;
  let gatewayStalls = 0;
  return streams.map((s) => {
    let { proxyReader, gatewayReader } = s;
    if (proxyReader.kind === 'stall') {
      if ((proxyStalls + 1) * px.streamWindow < px.connectionWindow) proxyStalls++;
      else proxyReader = { kind: 'eager' };
    }
    if (gatewayReader.kind === 'stall') {
      if ((gatewayStalls + 1) * gw.streamWindow < gw.connectionWindow) gatewayStalls++;
      else gatewayReader = { kind: 'eager' };
    }
    return { ...s, proxyReader, gatewayReader };
  });
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    gw: settingsArb,
    px: settingsArb,
    streams: fc.array(fc.record({ request: bodyArb, response: bodyArb, proxyReader: readerArb, gatewayReader: readerArb }), {
      minLength: 1,
      maxLength: 8,
    }),
    seed: fc.nat(),
  })
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
  readonly settled: Promise<Outcome>;

  constructor(
    readonly stream: MuxStream,
    readonly behaviour: Reader,
    readonly expected: Buffer,
    /** Stall readers give up once this returns true. */
    private readonly othersSettled: () => boolean,
  ) {
    this.settled = new Promise<Outcome>((resolve) => {
      stream.once('end', () => {
        this.outcome ??= 'complete';
        resolve(this.outcome);
      });
      stream.once('close', () => {
        this.outcome ??= 'reset';
        resolve(this.outcome);
      });
    });
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
  let quiet = 0;
  let last = -1;
  while (!done) {
    await tick();
    const sent = pair.gTap.messagesSent + pair.pTap.messagesSent;
    quiet = sent === last ? quiet + 1 : 0;
    last = sent;
    if (quiet > QUIET_TICKS) throw new Error(`deadlock: large transfer stuck (gateway credit ${pair.gTap.connCredit}, proxy credit ${pair.pTap.connCredit})`);
  }
  const [gotReq, gotRes] = await both;
  if (!gotReq.equals(req) || !gotRes.equals(res)) throw new Error('large transfer corrupted');
}

async function runScenario(sc: Scenario): Promise<void> {
  const t0 = performance.now();
  const pair = linkedPair(sc.gw, sc.px);
  const { g, p } = pair;
  const readers: ReadDriver[] = [];
  const writers: Array<Promise<void>> = [];
  const mustComplete: ReadDriver[] = [];
  const settledFlags: boolean[] = sc.streams.map(() => false);
  const othersSettled = (i: number) => () => settledFlags.every((f, j) => f || j === i || sc.streams[j]!.proxyReader.kind === 'stall' || sc.streams[j]!.gatewayReader.kind === 'stall');
  const bodies = sc.streams.map((s, i) => ({ req: body(s.request.size, sc.seed + 2 * i), res: body(s.response.size, sc.seed + 2 * i + 1) }));
  const receivers: Array<{ stream: MuxStream; local: PeerSettings; what: string }> = [];

  p.onStream(({ stream, head }) => {
    const i = Number(head.rid);
    const spec = sc.streams[i]!;
    const r = new ReadDriver(stream, spec.proxyReader, bodies[i]!.req, othersSettled(i));
    readers.push(r);
    receivers.push({ stream, local: sc.px, what: `proxy stream ${i}` });
    if (!isResetting(spec)) mustComplete.push(r);
    const res = bodies[i]!.res;
    if (res.length === 0) {
      stream.respond({ status: 200, headers: [] }, { endStream: true });
      writers.push(Promise.resolve());
    } else {
      stream.respond({ status: 200, headers: [] });
      writers.push(writeBody(stream, res, spec.response.chunks));
    }
  });

  const gatewayDone: Array<Promise<Outcome>> = [];
  const proxyReaderCount = sc.streams.length;
  sc.streams.forEach((spec, i) => {
    const req = bodies[i]!.req;
    const s = g.openStream({ ...baseHead, rid: String(i) }, { endStream: req.length === 0 });
    const r = new ReadDriver(s, spec.gatewayReader, bodies[i]!.res, othersSettled(i));
    readers.push(r);
    receivers.push({ stream: s, local: sc.gw, what: `gateway stream ${i}` });
    if (!isResetting(spec)) mustComplete.push(r);
    gatewayDone.push(r.settled);
    void r.settled.then(() => (settledFlags[i] = true));
    if (req.length > 0) writers.push(writeBody(s, req, spec.request.chunks));
  });

  let tickNo = 0;
  let lastSent = -1;
  let quietSince = 0;
  const allSettled = () =>
    readers.length === sc.streams.length + proxyReaderCount && readers.every((r) => r.outcome !== null);
  while (!allSettled()) {
    await tick();
    tickNo++;
    for (const r of readers) r.tick(tickNo);
    // Bounded buffering: what a receiver holds for a stream never exceeds its window plus one
    // readable buffer (bytes it has credited sit below the high-water mark).
    for (const { stream, local, what } of receivers) {
      const limit = local.streamWindow + highWaterMark(local);
      if (stream.readableLength > limit) throw new Error(`${what} buffers ${stream.readableLength} bytes; limit ${limit}`);
    }
    assertNoViolations(pair);
    const sent = pair.gTap.messagesSent + pair.pTap.messagesSent;
    if (sent !== lastSent || readers.some((r) => r.waiting)) {
      lastSent = sent;
      quietSince = tickNo;
    } else if (tickNo - quietSince > QUIET_TICKS || tickNo > MAX_TICKS) {
      const stuck = readers.filter((r) => r.outcome === null).map((r) => `${r.behaviour.kind} ${r.bytes}/${r.expected.length}`);
      throw new Error(
        `deadlock at tick ${tickNo}: unsettled readers [${stuck.join(', ')}]; gateway conn credit ${pair.gTap.connCredit}, proxy conn credit ${pair.pTap.connCredit}`,
      );
    }
  }
  if (process.env.MUXPROP_DEBUG) console.log(`ticks ${tickNo} streams ${sc.streams.length} bytes ${bodies.reduce((a, b) => a + b.req.length + b.res.length, 0)} C ${sc.gw.connectionWindow}/${sc.px.connectionWindow} ${sc.streams.map((s) => s.proxyReader.kind + "/" + s.gatewayReader.kind).join(",")}`);
  readers.forEach((r, i) => r.check(`reader ${i}`));
  for (const r of mustComplete) {
    if (r.outcome !== 'complete') throw new Error(`a stream with no reset on either side ended in ${r.outcome ?? 'nothing'}`);
  }
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
  const t1 = performance.now();
  // And a transfer of three connection windows each way still completes.
  await bigTransfer(pair, 3 * Math.max(sc.gw.connectionWindow, sc.px.connectionWindow));
  assertNoViolations(pair);
  if (process.env.MUXPROP_DEBUG) console.log(`time main ${(t1 - t0).toFixed(0)} big ${(performance.now() - t1).toFixed(0)}`);
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
    const ended: Array<Promise<void>> = [];
    pair.p.onStream(({ stream }) => {
      // Read the body only once all of it (and its END_STREAM) is buffered; keep the response open.
      stream.on('error', () => undefined);
      stream.respond({ status: 200, headers: [] });
      held.push(stream);
      ended.push(new Promise((resolve) => stream.once('end', () => resolve())));
    });
    for (let i = 0; i < 4; i++) {
      const st = pair.g.openStream({ ...baseHead, rid: String(i) });
      st.on('error', () => undefined);
      st.end(Buffer.alloc(48_000));
    }
    await quiesce(pair, 20);
    for (const st of held) st.resume();
    await Promise.all(ended);
    await quiesce(pair);
    // The four responses are still open, yet their request bytes have all been credited back.
    expect(s.connectionWindow - pair.gTap.connCredit).toBeLessThan(s.connectionWindow / 4);
    await bigTransfer(pair, 4 * s.connectionWindow);
    assertNoViolations(pair);
    pair.g.close();
    pair.p.close();
  });
});
