import fc from 'fast-check';
import { Multiplexer, createLinkedTransportPair, discardIncoming, type MuxStream } from '../../../src/mux';
import { silentLogger } from '../../../src/log';
import { ErrorCode, type PeerSettings, type RequestHead } from '../../../src/protocol';
import { WireTap } from './wire-tap';

/**
 * Issue 8, part 6: whatever order early responses, resets (either side), aborts and completions
 * happen in, every stream ends closed on both sides and ALL connection credit comes back. The
 * proxy side behaves like src/proxy/serve-stream.ts (a response that ends first is followed by
 * `discardIncoming`); the gateway side either writes its whole body regardless (an old gateway),
 * or stops and ends as soon as the response is complete (src/gateway/stream-lifecycle.ts).
 */

const RUNS = { seed: 0x8e41_7e, numRuns: 80 } as const;
const QUIET_TICKS = 400;

type ProxyMode =
  /** Reads the whole request, then answers. */
  | { kind: 'normal' }
  /** Answers in full before reading anything, then discards the rest within a budget. */
  | { kind: 'early'; maxBytes: number }
  /** Resets after `afterTicks` (with an error code, as on an upstream failure). */
  | { kind: 'reset'; afterTicks: number };
type GatewayMode =
  /** Writes the whole body whatever happens (an old gateway). */
  | { kind: 'full' }
  /** Stops writing and ends as soon as the response is complete. */
  | { kind: 'stopOnEnd' }
  /** Destroys the stream after `afterTicks` (client went away). */
  | { kind: 'abort'; afterTicks: number };

interface Spec {
  requestSize: number;
  responseSize: number;
  proxy: ProxyMode;
  gateway: GatewayMode;
}

const settingsArb = fc.record({
  maxFrameSize: fc.integer({ min: 1024, max: 8192 }),
  streamWindow: fc.integer({ min: 1024, max: 16 * 1024 }),
  connectionWindow: fc.integer({ min: 16 * 1024, max: 96 * 1024 }),
  maxStreams: fc.constant(100),
  maxHeaderBytes: fc.constant(65536),
});
const specArb: fc.Arbitrary<Spec> = fc.record({
  requestSize: fc.oneof(fc.constant(0), fc.nat({ max: 200_000 })),
  responseSize: fc.nat({ max: 40_000 }),
  proxy: fc.oneof(
    fc.constant({ kind: 'normal' as const }),
    fc.record({ kind: fc.constant('early' as const), maxBytes: fc.oneof(fc.nat({ max: 20_000 }), fc.constant(1 << 30)) }),
    fc.record({ kind: fc.constant('reset' as const), afterTicks: fc.nat({ max: 30 }) }),
  ),
  gateway: fc.oneof(
    fc.constant({ kind: 'full' as const }),
    fc.constant({ kind: 'stopOnEnd' as const }),
    fc.record({ kind: fc.constant('abort' as const), afterTicks: fc.nat({ max: 30 }) }),
  ),
});

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
const head: RequestHead = { rid: '0', server: 's', url: 'http://127.0.0.1/mcp', method: 'POST', headers: [] };

function waitWritable(s: MuxStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

/** Writes `size` bytes in 4 KiB chunks with backpressure, until done or `stop()`; then ends. */
async function writeBody(s: MuxStream, size: number, stop: () => boolean): Promise<void> {
  const chunk = Buffer.alloc(4096, 0x61);
  let left = size;
  while (left > 0 && !s.destroyed && !stop()) {
    const n = Math.min(left, chunk.length);
    left -= n;
    if (!s.write(chunk.subarray(0, n))) await waitWritable(s);
  }
  if (!s.destroyed && !s.writableEnded) s.end();
}

interface GatewaySeen {
  responseBytes: number;
  ended: boolean;
  stopSending: boolean;
  errored: boolean;
}

async function scenario(gw: PeerSettings, px: PeerSettings, specs: Spec[]): Promise<GatewaySeen[]> {
  const [a, b] = createLinkedTransportPair();
  const gTap = new WireTap('gateway', a, px);
  const pTap = new WireTap('proxy', b, gw);
  const g = new Multiplexer(gTap.transport, { role: 'gateway', local: gw, remote: px, logger: silentLogger() });
  const p = new Multiplexer(pTap.transport, { role: 'proxy', local: px, remote: gw, logger: silentLogger() });
  const closed = new Set<string>();
  let tickNo = 0;
  const timers: Array<{ at: number; run: () => void }> = [];

  p.onStream(({ stream, head: h }) => {
    const spec = specs[Number(h.rid)]!;
    stream.on('error', () => undefined);
    stream.once('close', () => closed.add(`p${h.rid}`));
    const respond = async (): Promise<void> => {
      if (stream.destroyed) return;
      stream.respond({ status: 200, headers: [] }, { endStream: spec.responseSize === 0 });
      if (spec.responseSize > 0) await writeBody(stream, spec.responseSize, () => false);
    };
    switch (spec.proxy.kind) {
      case 'normal':
        stream.on('data', () => undefined);
        stream.once('end', () => void respond());
        return;
      case 'early': {
        const budget = { maxBytes: spec.proxy.maxBytes, maxMs: 60_000 };
        void respond().then(() => {
          if (stream.destroyed) return;
          const discard = (): void => void discardIncoming(stream, budget);
          if (stream.writableFinished) discard();
          else stream.once('finish', discard);
        });
        return;
      }
      case 'reset':
        stream.on('data', () => undefined);
        timers.push({ at: tickNo + spec.proxy.afterTicks, run: () => stream.resetWith(ErrorCode.UPSTREAM_RESET, 'test') });
        return;
    }
  });

  const seen: GatewaySeen[] = specs.map(() => ({ responseBytes: 0, ended: false, stopSending: false, errored: false }));
  specs.forEach((spec, i) => {
    const s = g.openStream({ ...head, rid: String(i) }, { endStream: spec.requestSize === 0 });
    const mine = seen[i]!;
    s.on('error', () => (mine.errored = true));
    s.on('data', (c: Buffer) => (mine.responseBytes += c.length)); // the client reads the response eagerly
    s.once('end', () => (mine.ended = true));
    s.once('stopSending', () => (mine.stopSending = true));
    s.once('close', () => closed.add(`g${i}`));
    let responseDone = false;
    s.once('end', () => (responseDone = true));
    const stop = spec.gateway.kind === 'stopOnEnd' ? () => responseDone : () => false;
    if (spec.gateway.kind === 'stopOnEnd') s.once('stopSending', () => (responseDone = true));
    if (spec.requestSize > 0) void writeBody(s, spec.requestSize, stop);
    if (spec.gateway.kind === 'abort') timers.push({ at: tickNo + spec.gateway.afterTicks, run: () => s.destroy() });
  });

  const allClosed = (): boolean => specs.every((_, i) => closed.has(`g${i}`) && (closed.has(`p${i}`) || !p.activeStreams));
  let lastSent = -1;
  let quietSince = 0;
  while (!allClosed() || g.activeStreams > 0 || p.activeStreams > 0) {
    await tick();
    tickNo++;
    for (const t of timers.filter((x) => x.at <= tickNo)) {
      timers.splice(timers.indexOf(t), 1);
      t.run();
    }
    const sent = gTap.messagesSent + pTap.messagesSent;
    if (sent !== lastSent) {
      lastSent = sent;
      quietSince = tickNo;
    }
    if (tickNo - quietSince > QUIET_TICKS) {
      const open = specs.map((sp, i) => `${i}:${sp.proxy.kind}/${sp.gateway.kind} g=${closed.has(`g${i}`)} p=${closed.has(`p${i}`)}`);
      throw new Error(`stuck: gateway ${g.activeStreams} / proxy ${p.activeStreams} streams open [${open.join(', ')}]; conn credit g→p ${gTap.connCredit}, p→g ${pTap.connCredit}`);
    }
  }
  // Let the last WINDOW_UPDATEs cross, then every byte of connection credit must be back but for
  // one batch below the announcement threshold.
  for (let still = 0, last = -1; still < 10; ) {
    await tick();
    const sent = gTap.messagesSent + pTap.messagesSent;
    still = sent === last ? still + 1 : 0;
    last = sent;
  }
  const v = [...gTap.violations, ...pTap.violations];
  if (v.length > 0) throw new Error(`wire violations:\n${v.slice(0, 5).join('\n')}`);
  const gwOut = px.connectionWindow - gTap.connCredit;
  const pxOut = gw.connectionWindow - pTap.connCredit;
  if (gwOut >= Math.max(1, Math.floor(px.connectionWindow / 4))) throw new Error(`gateway→proxy: ${gwOut} bytes of connection credit never returned`);
  if (pxOut >= Math.max(1, Math.floor(gw.connectionWindow / 4))) throw new Error(`proxy→gateway: ${pxOut} bytes of connection credit never returned`);
  g.close();
  p.close();
  await tick();
  return seen;
}

describe('stream lifecycle properties (early response, resets, aborts, completion)', () => {
  it('after any interleaving, no stream stays open on either side and all connection credit is returned', async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb, settingsArb, fc.array(specArb, { minLength: 1, maxLength: 6 }), async (gw, px, specs) => {
        const seen = await scenario(gw, px, specs);
        // A response that nobody reset arrives complete, even when the proxy stopped the request early.
        specs.forEach((sp, i) => {
          if (sp.proxy.kind !== 'reset' && sp.gateway.kind !== 'abort' && seen[i]!.responseBytes !== sp.responseSize) {
            throw new Error(`stream ${i}: response of ${seen[i]!.responseBytes}/${sp.responseSize} bytes`);
          }
        });
      }),
      RUNS,
    );
  }, 120_000);

  it('an early response followed by an old gateway that keeps sending 1 MiB: the proxy resets with NO_ERROR past its budget, the gateway keeps the complete response (regression: stranded credit)', async () => {
    const s: PeerSettings = { maxFrameSize: 4096, streamWindow: 8192, connectionWindow: 32768, maxStreams: 100, maxHeaderBytes: 65536 };
    const [seen] = await scenario(s, s, [{ requestSize: 1 << 20, responseSize: 30_000, proxy: { kind: 'early', maxBytes: 16_384 }, gateway: { kind: 'full' } }]);
    expect(seen).toEqual({ responseBytes: 30_000, ended: true, stopSending: true, errored: false });
  });
});
