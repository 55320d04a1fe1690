/**
 * The chunks the record taps see are never written to afterwards (D71: the inline writer keeps
 * them by reference instead of copying). Real sockets on loopback: a client uploads a body through a
 * hop to an upstream and the upstream streams a response back through the hop, which forwards it with
 * undici (the proxy's HTTP client) into a `ServerResponse` observed as the taps observe it. Every chunk
 * seen is kept by reference and checked only at the end: had a source reused its memory (a socket read
 * buffer, a parser buffer, undici's), later data would show up in earlier chunks.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { Agent, request as undiciRequest } from 'undici';
import { observeWrites } from '../../../src/replay';

const CHUNK = 16 * 1024;
const COUNT = 256; // 4 MiB each way: many socket reads

/** Chunk `i`: its index written all over it, so any overwrite by a later chunk shows. */
function chunk(i: number): Buffer {
  const b = Buffer.alloc(CHUNK);
  for (let off = 0; off < CHUNK; off += 4) b.writeUInt32BE(i, off);
  return b;
}
const EXPECTED = Buffer.concat(Array.from({ length: COUNT }, (_, i) => chunk(i)));

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function keep(into: Uint8Array[]): (c: Uint8Array) => void {
  return (c) => void into.push(c);
}

/** Writes the chunks with backpressure, then ends. */
function stream(w: NodeJS.WritableStream): void {
  let i = 0;
  const next = (): void => {
    while (i < COUNT) if (!w.write(chunk(i++))) return void w.once('drain', next);
    w.end();
  };
  next();
}

describe('record tap sources keep their chunks unchanged', () => {
  const servers: Server[] = [];
  const agent = new Agent();
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });
  afterAll(async () => {
    await agent.close();
  });

  it('Node HTTP request and response bodies and undici response bodies are fresh memory per chunk', async () => {
    const upstreamGot: Uint8Array[] = [];
    const hopRequest: Uint8Array[] = [];
    const hopForwarded: Uint8Array[] = [];
    const clientGot: Uint8Array[] = [];
    const upstream = createServer((req, res) => {
      req.on('data', keep(upstreamGot)); // Node's server-side HTTP parser
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        stream(res);
      });
    });
    servers.push(upstream);
    const upstreamUrl = await listen(upstream);
    const hop = createServer((req, res) => {
      // What the gateway's request tap sees: IncomingMessage chunks written on into the next stream.
      const body = new PassThrough();
      observeWrites(body, keep(hopRequest));
      req.pipe(body);
      void undiciRequest(upstreamUrl, { method: 'POST', body, dispatcher: agent }).then((up) => {
        res.writeHead(up.statusCode);
        observeWrites(res, keep(hopForwarded)); // what the proxy's response tap sees (undici body chunks)
        up.body.pipe(res);
      });
    });
    servers.push(hop);
    const hopUrl = await listen(hop);

    await new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${hopUrl}/`, { method: 'POST' }, (res: IncomingMessage) => {
        res.on('data', keep(clientGot)); // Node's client-side HTTP parser
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      stream(req);
    });

    for (const [name, got] of Object.entries({ upstreamGot, hopRequest, hopForwarded, clientGot })) {
      expect({ name, chunks: got.length > 1, same: Buffer.concat(got).equals(EXPECTED) }).toEqual({ name, chunks: true, same: true });
    }
  });

  it('would catch a source that reuses its memory (the same check on a writer that refills one buffer)', async () => {
    const seen: Uint8Array[] = [];
    const sink = new PassThrough();
    sink.resume();
    observeWrites(sink, keep(seen));
    const reused = Buffer.alloc(CHUNK);
    for (let i = 0; i < COUNT; i++) {
      chunk(i).copy(reused);
      sink.write(reused);
    }
    await new Promise((resolve) => sink.end(resolve));
    expect(Buffer.concat(seen).equals(EXPECTED)).toBe(false);
  });
});
