import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { Multiplexer, createLinkedTransportPair, type IncomingStream, type MuxStream } from '../../../src/mux';
import { silentLogger } from '../../../src/log';
import type { PeerSettings, ResponseHead } from '../../../src/protocol';

const settings = (o: Partial<PeerSettings> = {}): PeerSettings => ({
  maxFrameSize: 16384,
  streamWindow: 65536,
  connectionWindow: 1 << 20,
  maxStreams: 100,
  maxHeaderBytes: 65536,
  ...o,
});

function pair(gw: Partial<PeerSettings> = {}, px: Partial<PeerSettings> = {}) {
  const [a, b] = createLinkedTransportPair();
  const g = new Multiplexer(a, { role: 'gateway', local: settings(gw), remote: settings(px), logger: silentLogger() });
  const p = new Multiplexer(b, { role: 'proxy', local: settings(px), remote: settings(gw), logger: silentLogger() });
  return { g, p };
}

const head = { rid: 'r1', server: 's', url: 'http://127.0.0.1/x', method: 'POST', headers: [['content-type', 'application/json']] as Array<[string, string]> };

/** Reads a stream to its end without destroying its (still open) writable side. */
function collect(s: MuxStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

describe('Multiplexer', () => {
  let muxes: Multiplexer[] = [];
  afterEach(() => {
    for (const m of muxes) m.close();
    muxes = [];
  });

  it('carries a request and a streamed response both ways, byte for byte', async () => {
    const { g, p } = pair();
    muxes.push(g, p);
    const body = randomBytes(300_000);
    p.onStream(({ stream, head: h }: IncomingStream) => {
      expect(h.url).toBe(head.url);
      void collect(stream).then((got) => {
        stream.respond({ status: 200, headers: [['x-sha', createHash('sha256').update(got).digest('hex')]] });
        stream.end(got);
      });
    });
    const s = g.openStream(head);
    const resp = once(s, 'response') as Promise<[ResponseHead]>;
    s.end(body);
    const [rh] = await resp;
    expect(rh.status).toBe(200);
    expect(rh.headers[0]![1]).toBe(createHash('sha256').update(body).digest('hex'));
    const echoed = await collect(s);
    expect(echoed.equals(body)).toBe(true);
    expect(g.activeStreams).toBe(0);
  });

  it('a stalled reader does not stall another stream, and the stalled sender holds at most a window', async () => {
    const { g, p } = pair({ streamWindow: 32768, connectionWindow: 1 << 20 });
    muxes.push(g, p);
    const written = new Map<string, number>();
    p.onStream(({ stream, head: h }) => {
      stream.respond({ status: 200, headers: [] });
      let sent = 0;
      const total = h.url.endsWith('/big') ? 50 * 16384 * 64 : 16384 * 128;
      const chunk = Buffer.alloc(16384, 1);
      const src = new Readable({
        read() {
          if (sent >= total) return void this.push(null);
          sent += chunk.length;
          written.set(h.url, sent);
          this.push(chunk);
        },
      });
      void pipeline(src, stream).catch(() => undefined);
    });
    const stalled = g.openStream({ ...head, url: 'http://x/big' }, { endStream: true });
    await once(stalled, 'response');
    stalled.pause();
    stalled.on('error', () => undefined);
    const other = g.openStream({ ...head, url: 'http://x/small' }, { endStream: true });
    const got = await collect(other);
    expect(got.length).toBe(16384 * 128);
    // The stalled stream's producer was stopped by credit: window + a few buffers, not 50 MB.
    expect(written.get('http://x/big')!).toBeLessThan(512 * 1024);
    stalled.destroy();
  });

  it('client-side destroy resets the stream at the peer', async () => {
    const { g, p } = pair();
    muxes.push(g, p);
    const reset = new Promise<Error>((resolve) => {
      p.onStream(({ stream }) => {
        stream.on('error', resolve);
        stream.respond({ status: 200, headers: [] });
        stream.write('hello');
      });
    });
    const s = g.openStream(head, { endStream: true });
    await once(s, 'response');
    s.destroy();
    const err = await reset;
    expect((err as { code?: string }).code).toBe('TUNNEL_STREAM_RESET');
  });

  it('closing the connection fails every open stream with TUNNEL_CONNECTION_CLOSED', async () => {
    const { g, p } = pair();
    muxes.push(g, p);
    p.onStream(({ stream }) => stream.on('error', () => undefined));
    const s = g.openStream(head);
    const err = once(s, 'error');
    p.close(4000, 'bye');
    const [e] = (await err) as [Error & { code: string }];
    expect(e.code).toBe('TUNNEL_CONNECTION_CLOSED');
  });

  it('200 concurrent streams', async () => {
    const { g, p } = pair({}, { maxStreams: 500 });
    muxes.push(g, p);
    p.onStream(({ stream }) => {
      void collect(stream).then((b) => {
        stream.respond({ status: 200, headers: [] });
        stream.end(b);
      });
    });
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const s = g.openStream(head);
        s.end(`req-${i}`);
        return (await collect(s)).toString();
      }),
    );
    results.forEach((r, i) => expect(r).toBe(`req-${i}`));
  });

  it('ping measures a round trip', async () => {
    const { g, p } = pair();
    muxes.push(g, p);
    await expect(g.ping()).resolves.toBeGreaterThanOrEqual(0);
    await expect(p.ping()).resolves.toBeGreaterThanOrEqual(0);
  });

  it('refuses streams beyond the peer limit', () => {
    const { g, p } = pair({}, { maxStreams: 1 });
    muxes.push(g, p);
    g.openStream(head).on('error', () => undefined);
    expect(() => g.openStream(head)).toThrow(expect.objectContaining({ code: 'TUNNEL_STREAM_REFUSED' }));
  });

  it('a garbage message closes the connection with a protocol error', async () => {
    const [a, b] = createLinkedTransportPair();
    const p = new Multiplexer(b, { role: 'proxy', local: settings(), remote: settings(), logger: silentLogger() });
    muxes.push(p);
    const closed = new Promise((r) => p.closed$.subscribe(r));
    a.setHandler({ onMessage: () => undefined, onClose: () => undefined });
    a.send(Buffer.from([0x99, 0, 0, 0, 0, 1, 0, 0, 0, 0]));
    await expect(closed).resolves.toMatchObject({ code: 4400 });
  });

  it('stalled streams do not grow memory past the windows (sink never reads)', async () => {
    const { g, p } = pair({ streamWindow: 65536 });
    muxes.push(g, p);
    let produced = 0;
    let producer: MuxStream | null = null;
    p.onStream(({ stream }) => {
      producer = stream;
      stream.respond({ status: 200, headers: [] });
      const w = (): void => {
        while (produced < 16384 * 610) {
          produced += 16384;
          if (!stream.write(Buffer.alloc(16384))) return void stream.once('drain', w);
        }
        stream.end();
      };
      w();
    });
    const s: MuxStream = g.openStream(head, { endStream: true });
    s.pause();
    await once(s, 'response');
    // Wait until the producer is blocked on credit, then check how much it got out.
    while (!producer || !(producer as MuxStream).writableNeedDrain) await new Promise((r) => setImmediate(r));
    expect(produced).toBeLessThan(300_000);
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    s.resume();
    await pipeline(s, sink);
    expect(produced).toBe(16384 * 610);
  });
});
