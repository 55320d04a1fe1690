import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Multiplexer, ReceiveWindow, createLinkedTransportPair, growableStreamWindow, type IncomingStream } from '../../../src/mux';
import { silentLogger } from '../../../src/log';
import type { PeerSettings } from '../../../src/protocol';

/** Stream windows that grow while their reader keeps up (decisions.md D70). */

const settings: PeerSettings = { maxFrameSize: 16384, streamWindow: 131072, connectionWindow: 1 << 24, maxStreams: 100, maxHeaderBytes: 65536 };
const head = { rid: 'r1', server: 's', url: 'http://127.0.0.1/x', method: 'GET', headers: [] as Array<[string, string]> };

describe('ReceiveWindow growth', () => {
  it('doubles, up to maxSize, once a whole window went back while the reader kept up', () => {
    const w = new ReceiveWindow(1000, 4000);
    const announced: number[] = [];
    for (let i = 0; i < 12; i++) {
      expect(w.receive(250)).toBe(true);
      announced.push(w.consume(250, false, true));
    }
    // 4 × 250 = one window of credit, then the 5th update carries 1000 extra; then 2000 at 2 windows' worth.
    expect(w.size).toBe(4000);
    expect(announced.reduce((a, b) => a + b, 0)).toBe(12 * 250 + 3000);
    expect(w.remaining).toBe(4000);
  });

  it('never grows without the keep-up flag, nor without room', () => {
    const w = new ReceiveWindow(1000);
    const slow = new ReceiveWindow(1000, 8000);
    for (let i = 0; i < 40; i++) {
      w.receive(250);
      w.consume(250, false, true);
      slow.receive(250);
      slow.consume(250);
    }
    expect(w.size).toBe(1000);
    expect(slow.size).toBe(1000);
  });

  it('caps growth at 4 × the stream window and at a sixteenth of the connection window', () => {
    expect(growableStreamWindow({ streamWindow: 262144, connectionWindow: 16 * 2 ** 20 })).toBe(2 ** 20);
    expect(growableStreamWindow({ streamWindow: 262144, connectionWindow: 2 ** 22 })).toBe(262144);
    expect(growableStreamWindow({ streamWindow: 1000, connectionWindow: 2 ** 30 })).toBe(4000);
  });
});

describe('Multiplexer stream window growth', () => {
  let muxes: Multiplexer[] = [];
  afterEach(() => {
    for (const m of muxes) m.close();
    muxes = [];
  });

  function pair(): { g: Multiplexer; p: Multiplexer } {
    const [a, b] = createLinkedTransportPair();
    const g = new Multiplexer(a, { role: 'gateway', local: settings, remote: settings, logger: silentLogger() });
    const p = new Multiplexer(b, { role: 'proxy', local: settings, remote: settings, logger: silentLogger() });
    muxes.push(g, p);
    return { g, p };
  }


  it("grows the window of a stream whose reader keeps up, and only to the cap; a stalled reader's stays", async () => {
    const { g, p } = pair();
    const body = randomBytes(4 * 2 ** 20);
    p.onStream(({ stream }: IncomingStream) => {
      stream.on('error', () => undefined); // the stalled one is reset at the end
      stream.respond({ status: 200, headers: [] });
      stream.end(body);
    });
    const fast = g.openStream({ ...head, rid: 'fast' }, { endStream: true });
    const stalled = g.openStream({ ...head, rid: 'stalled' }, { endStream: true });
    stalled.on('error', () => undefined);
    let got = 0;
    fast.on('data', (c: Buffer) => (got += c.length));
    await once(fast, 'end');
    expect(got).toBe(body.length);
    expect(fast.recvWindow.size).toBe(growableStreamWindow(settings));
    expect(fast.recvWindow.size).toBeGreaterThan(settings.streamWindow);
    // Never read: it holds at most its (initial) window plus one readable buffer.
    await new Promise((resolve) => setImmediate(resolve));
    expect(stalled.recvWindow.size).toBe(settings.streamWindow);
    expect(stalled.readableLength).toBeLessThanOrEqual(settings.streamWindow + 65536); // + one readable buffer
    stalled.destroy();
  });
});
