import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ReceiveWindow, SendWindow } from '../../../src/mux';

/**
 * Property-based tests of the credit windows against a reference model made of plain counters.
 *
 * The harness plays both ends of the wire with queues for the frames in flight: a sender that uses
 * SendWindow the way Multiplexer.pump does, and a receiver that uses ReceiveWindow the way
 * Multiplexer.onDataFrame / consumed do. The model says what every window must hold after each
 * step: sender credit = window − sent + granted, receiver remaining = window − received + announced,
 * pending credit = consumed − announced, and credit is conserved across the wire.
 */

const RUNS = { seed: 0x5eed, numRuns: 100 } as const;

/** The reference model of one flow-controlled window (one stream, or the connection). */
interface WindowModel {
  readonly window: number;
  sent: number;
  received: number;
  consumed: number;
  announced: number;
  granted: number;
}

function newModel(window: number): WindowModel {
  return { window, sent: 0, received: 0, consumed: 0, announced: 0, granted: 0 };
}

const modelCredit = (m: WindowModel): number => m.window - m.sent + m.granted;
const modelRemaining = (m: WindowModel): number => m.window - m.received + m.announced;
const modelPending = (m: WindowModel): number => m.consumed - m.announced;
const threshold = (window: number): number => Math.max(1, Math.floor(window / 4));

/**
 * The batching rule the receiver must follow: credit waits for a quarter window, except that it
 * goes out at once when it is at least what the peer has left (so a sender never waits at zero
 * credit while consumed bytes sit in a batch).
 */
function modelDue(m: WindowModel): number {
  const pending = modelPending(m);
  if (pending === 0) return 0;
  return pending >= threshold(m.window) || pending >= modelRemaining(m) ? pending : 0;
}

/**
 * Checks the real windows against the model, and the model's own invariants. (node:assert rather
 * than expect: this runs after every step of every run, and fast-check reports the failing case.)
 */
function checkWindow(
  what: string,
  m: WindowModel,
  send: SendWindow,
  recv: ReceiveWindow,
  wire: { dataInFlight: number; updatesInFlight: number },
): void {
  const pending = modelPending(m);
  const buffered = m.received - m.consumed;
  assert.equal(send.available, modelCredit(m), `${what}: sender credit`);
  assert.equal(recv.remaining, modelRemaining(m), `${what}: receiver remaining`);
  // Credit is conserved: every byte of the window is either credit at the sender, in flight,
  // buffered at the receiver, consumed but not yet announced, or announced but not yet arrived.
  assert.equal(modelCredit(m) + wire.dataInFlight + buffered + pending + wire.updatesInFlight, m.window, `${what}: credit conserved`);
  assert.ok(m.sent - m.announced <= m.window, `${what}: sent − credited exceeds the window`);
  assert.ok(modelCredit(m) >= 0, `${what}: negative credit`);
  // Nothing that is due stays in the batch.
  assert.equal(modelDue(m), 0, `${what}: credit due but not announced`);
}

/** FIFO for frames in flight (Array.shift is linear, and a run can have thousands of 1-byte frames). */
class Queue<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
}

/** What is on the wire for one window, tallied as frames are queued and delivered. */
interface Wire {
  dataInFlight: number;
  updatesInFlight: number;
}

// ---- one sender, one receiver ------------------------------------------------------------------

type PairCommand =
  | { kind: 'send'; n: number }
  | { kind: 'deliverData' }
  | { kind: 'consume'; n: number }
  | { kind: 'deliverUpdate' }
  | { kind: 'overrun'; extra: number }
  | { kind: 'overspend'; extra: number }
  | { kind: 'flush' };

const pairCommand = (maxChunk: number): fc.Arbitrary<PairCommand> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), n: fc.integer({ min: 1, max: maxChunk }) }) },
    { weight: 4, arbitrary: fc.constant({ kind: 'deliverData' as const }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('consume' as const), n: fc.integer({ min: 0, max: maxChunk }) }) },
    { weight: 3, arbitrary: fc.constant({ kind: 'deliverUpdate' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('overrun' as const), extra: fc.integer({ min: 1, max: maxChunk }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('overspend' as const), extra: fc.integer({ min: 1, max: maxChunk }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
  );

class WindowPair {
  readonly model: WindowModel;
  readonly send: SendWindow;
  readonly recv: ReceiveWindow;
  readonly data = new Queue<number>();
  readonly updates = new Queue<number>();
  readonly wire: Wire = { dataInFlight: 0, updatesInFlight: 0 };
  left: number;

  constructor(window: number, total: number) {
    this.model = newModel(window);
    this.send = new SendWindow(window);
    this.recv = new ReceiveWindow(window);
    this.left = total;
  }

  private announce(inc: number, expected: number): void {
    assert.equal(inc, expected, 'increment');
    if (inc === 0) return;
    this.model.announced += inc;
    this.updates.push(inc);
    this.wire.updatesInFlight += inc;
  }

  run(c: PairCommand): void {
    const m = this.model;
    switch (c.kind) {
      case 'send': {
        const k = Math.min(c.n, this.send.available, this.left);
        if (k === 0) return;
        this.send.consume(k);
        m.sent += k;
        this.left -= k;
        this.data.push(k);
        this.wire.dataInFlight += k;
        return;
      }
      case 'deliverData': {
        const k = this.data.shift();
        if (k === undefined) return;
        this.wire.dataInFlight -= k;
        assert.ok(this.recv.receive(k), 'receiver refused data sent within credit');
        m.received += k;
        this.announce(this.recv.poll(), modelDue(m));
        return;
      }
      case 'consume': {
        const k = Math.min(c.n, m.received - m.consumed);
        m.consumed += k;
        const expected = modelDue(m);
        this.announce(this.recv.consume(k), expected);
        return;
      }
      case 'deliverUpdate': {
        const inc = this.updates.shift();
        if (inc === undefined) return;
        this.wire.updatesInFlight -= inc;
        assert.ok(this.send.grant(inc));
        m.granted += inc;
        return;
      }
      case 'overrun': {
        // A peer that ignores the window: the receiver refuses and records nothing.
        const before = this.recv.remaining;
        assert.equal(this.recv.receive(before + c.extra), false, 'receiver accepted beyond its window');
        assert.equal(this.recv.remaining, before);
        return;
      }
      case 'overspend': {
        const before = this.send.available;
        assert.throws(() => this.send.consume(before + c.extra), RangeError);
        assert.equal(this.send.available, before);
        return;
      }
      case 'flush': {
        // End of stream: whatever is pending goes out regardless of the batch size.
        this.announce(this.recv.consume(0, true), modelPending(m));
        return;
      }
    }
  }

  check(): void {
    checkWindow('pair', this.model, this.send, this.recv, this.wire);
  }
}

// ---- many streams sharing a connection window --------------------------------------------------

interface StreamSide {
  model: WindowModel;
  wire: Wire;
  send: SendWindow;
  recv: ReceiveWindow;
  left: number;
  readonly total: number;
  /** Its reader never consumes anything. */
  readonly stalled: boolean;
}

type ConnCommand =
  | { kind: 'send'; stream: number }
  | { kind: 'deliverData' }
  | { kind: 'consume'; stream: number; n: number }
  | { kind: 'deliverUpdate' };

/**
 * The multiplexer's accounting for k streams over one connection, with the worst-case reader: a
 * stream's bytes are uncredited (at stream and connection level) until its reader consumes them.
 */
class SharedConnection {
  readonly conn: { model: WindowModel; wire: Wire; send: SendWindow; recv: ReceiveWindow };
  readonly streams: StreamSide[];
  readonly data = new Queue<{ stream: number; n: number }>();
  readonly updates = new Queue<{ stream: number | null; inc: number }>();

  constructor(
    connWindow: number,
    streamWindow: number,
    private readonly maxFrame: number,
    specs: Array<{ total: number; stalled: boolean }>,
  ) {
    this.conn = { model: newModel(connWindow), wire: { dataInFlight: 0, updatesInFlight: 0 }, send: new SendWindow(connWindow), recv: new ReceiveWindow(connWindow) };
    this.streams = specs.map((s) => ({
      model: newModel(streamWindow),
      wire: { dataInFlight: 0, updatesInFlight: 0 },
      send: new SendWindow(streamWindow),
      recv: new ReceiveWindow(streamWindow),
      left: s.total,
      total: s.total,
      stalled: s.stalled,
    }));
  }

  private announce(stream: number | null, inc: number): void {
    if (inc === 0) return;
    const side = stream === null ? this.conn : this.streams[stream]!;
    side.model.announced += inc;
    side.wire.updatesInFlight += inc;
    this.updates.push({ stream, inc });
  }

  /** One frame, sized as Multiplexer.pump sizes it. Returns the bytes sent. */
  sendFrame(i: number): number {
    const s = this.streams[i];
    if (!s) return 0;
    const k = Math.min(s.left, s.send.available, this.conn.send.available, this.maxFrame);
    if (k <= 0) return 0;
    s.send.consume(k);
    this.conn.send.consume(k);
    s.model.sent += k;
    this.conn.model.sent += k;
    s.left -= k;
    s.wire.dataInFlight += k;
    this.conn.wire.dataInFlight += k;
    this.data.push({ stream: i, n: k });
    return k;
  }

  run(c: ConnCommand): void {
    switch (c.kind) {
      case 'send':
        this.sendFrame(c.stream);
        return;
      case 'deliverData': {
        const f = this.data.shift();
        if (!f) return;
        const s = this.streams[f.stream]!;
        s.wire.dataInFlight -= f.n;
        this.conn.wire.dataInFlight -= f.n;
        assert.ok(this.conn.recv.receive(f.n), 'connection refused data sent within credit');
        assert.ok(s.recv.receive(f.n), 'stream refused data sent within credit');
        this.conn.model.received += f.n;
        s.model.received += f.n;
        const expected = modelDue(this.conn.model);
        const inc = this.conn.recv.poll();
        assert.equal(inc, expected, 'increment');
        this.announce(null, inc);
        return;
      }
      case 'consume': {
        const s = this.streams[c.stream];
        if (!s || s.stalled) return;
        const k = Math.min(c.n, s.model.received - s.model.consumed);
        s.model.consumed += k;
        this.conn.model.consumed += k;
        const expectedStream = modelDue(s.model);
        const expectedConn = modelDue(this.conn.model);
        const incStream = s.recv.consume(k);
        const incConn = this.conn.recv.consume(k);
        assert.equal(incStream, expectedStream, 'stream increment');
        assert.equal(incConn, expectedConn, 'connection increment');
        this.announce(c.stream, incStream);
        this.announce(null, incConn);
        return;
      }
      case 'deliverUpdate': {
        const u = this.updates.shift();
        if (!u) return;
        const side = u.stream === null ? this.conn : this.streams[u.stream]!;
        side.wire.updatesInFlight -= u.inc;
        assert.ok(side.send.grant(u.inc), 'window overflow');
        side.model.granted += u.inc;
        return;
      }
    }
  }

  check(): void {
    checkWindow('connection', this.conn.model, this.conn.send, this.conn.recv, this.conn.wire);
    this.streams.forEach((s, i) => checkWindow(`stream ${i}`, s.model, s.send, s.recv, s.wire));
  }

  /** Every stream whose reader is not stalled has had all its bytes delivered and consumed. */
  get activeDone(): boolean {
    return this.streams.every((s) => s.stalled || (s.left === 0 && s.model.consumed === s.total));
  }

  /**
   * From the current state, keep the wire and the readers that are not stalled going. Stalled
   * streams send first in every round (the worst case: they grab connection credit whenever any
   * appears). Returns false if a round makes no progress before every active stream is done.
   */
  drain(): boolean {
    const progress = () =>
      this.conn.model.sent + this.conn.model.received + this.conn.model.consumed + this.conn.model.granted + this.updates.length;
    const order = this.streams.map((s, i) => ({ s, i })).sort((a, b) => Number(b.s.stalled) - Number(a.s.stalled));
    while (!this.activeDone) {
      const before = progress();
      while (this.updates.length > 0) this.run({ kind: 'deliverUpdate' });
      for (const { i } of order) while (this.sendFrame(i) > 0);
      while (this.data.length > 0) this.run({ kind: 'deliverData' });
      this.streams.forEach((s, i) => {
        if (!s.stalled) this.run({ kind: 'consume', stream: i, n: Number.MAX_SAFE_INTEGER });
      });
      this.check();
      if (progress() === before && !this.activeDone) return false;
    }
    return true;
  }
}

describe('flow-control windows against a reference model', () => {
  it('one sender and one receiver: accounting matches the model, credit is conserved, and a consuming reader always lets the sender finish', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8192 }),
        fc.integer({ min: 0, max: 40_000 }),
        fc.array(pairCommand(6000), { maxLength: 300 }),
        (window, total, commands) => {
          const p = new WindowPair(window, total);
          for (const c of commands) {
            p.run(c);
            p.check();
          }
          // Liveness from wherever the commands left us: deliver, consume, send, until done.
          let rounds = 0;
          while (p.left > 0 || p.data.length > 0 || p.model.consumed < p.model.received) {
            const before = p.model.consumed + p.model.sent + p.model.granted;
            while (p.updates.length > 0) p.run({ kind: 'deliverUpdate' });
            p.run({ kind: 'send', n: Number.MAX_SAFE_INTEGER });
            while (p.data.length > 0) p.run({ kind: 'deliverData' });
            p.run({ kind: 'consume', n: Number.MAX_SAFE_INTEGER });
            p.check();
            const progressed = p.model.consumed + p.model.sent + p.model.granted > before || p.updates.length > 0;
            assert.ok(progressed || (p.left === 0 && p.data.length === 0), 'deadlock: a round made no progress');
            rounds++;
          }
          expect(p.model.consumed).toBe(total);
          // Each round moves at least one byte, so the bound is the body size (+1 for a final flush).
          expect(rounds).toBeLessThanOrEqual(total + 1);
        },
      ),
      RUNS,
    );
  });

  it('streams sharing a connection window: stalled readers never deadlock the others while stalled × streamWindow < connectionWindow', () => {
    const scenario = fc
      .record({
        streamWindow: fc.integer({ min: 1, max: 4096 }),
        maxFrame: fc.integer({ min: 1, max: 2048 }),
        specs: fc.array(fc.record({ total: fc.integer({ min: 0, max: 12_000 }), stalled: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        // Connection window as stalled × streamWindow + slack; the slack may be far below one stream window.
        slack: fc.integer({ min: 1, max: 3 * 4096 }),
      })
      .chain((s) => {
        const stalled = s.specs.filter((x) => x.stalled).length;
        return fc.record({
          streamWindow: fc.constant(s.streamWindow),
          maxFrame: fc.constant(s.maxFrame),
          specs: fc.constant(s.specs),
          connWindow: fc.constant(stalled * s.streamWindow + s.slack),
          commands: fc.array(
            fc.oneof(
              fc.record({ kind: fc.constant('send' as const), stream: fc.nat({ max: s.specs.length - 1 }) }),
              fc.constant({ kind: 'deliverData' as const }),
              fc.record({
                kind: fc.constant('consume' as const),
                stream: fc.nat({ max: s.specs.length - 1 }),
                n: fc.integer({ min: 0, max: 4096 }),
              }),
              fc.constant({ kind: 'deliverUpdate' as const }),
            ),
            { maxLength: 300 },
          ),
        });
      });
    fc.assert(
      fc.property(scenario, ({ streamWindow, maxFrame, specs, connWindow, commands }) => {
        const c = new SharedConnection(connWindow, streamWindow, maxFrame, specs);
        for (const cmd of commands) {
          c.run(cmd);
          c.check();
        }
        expect(c.drain()).toBe(true);
        c.streams.forEach((s) => {
          if (!s.stalled) expect(s.model.consumed).toBe(s.total);
          // A stalled reader holds at most one stream window.
          else expect(s.model.received - s.model.consumed).toBeLessThanOrEqual(streamWindow);
        });
      }),
      RUNS,
    );
  });

  it('regression: three stalled streams holding 60 of 64 KiB no longer starve a fourth (quarter-window batching deadlock)', () => {
    const c = new SharedConnection(65536, 20480, 4096, [
      { total: 40_000, stalled: true },
      { total: 40_000, stalled: true },
      { total: 40_000, stalled: true },
      { total: 200_000, stalled: false },
    ]);
    expect(c.drain()).toBe(true);
    expect(c.streams[3]!.model.consumed).toBe(200_000);
  });
});
