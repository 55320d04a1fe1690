#!/usr/bin/env node
/**
 * The Node floor (`npm run bench`'s "node floor" column): the least two Node processes can do to
 * carry the bench's traffic with the parts mcp-tunnel is built from, and nothing else. An outside
 * end (Node's HTTP server, a `ws` WebSocket server) and an inside end (a `ws` client that dialled
 * out, undici to the upstream) exchange records `[type u8][id u32][length u32][payload]`, joined per
 * event-loop turn into one WebSocket message, as mcp-tunnel's frame writer does.
 *
 * It keeps what mcp-tunnel does about Node and V8 themselves, since anyone building on these parts
 * would: undici's pool loaded by file (D34), WebSocket messages unmasked and gathered (D54, D56), a
 * young-generation collection per 8 MiB forwarded (D95), Liftoff only for undici's parser (D96, D99).
 *
 * What it leaves out is everything that makes mcp-tunnel a tunnel one can run in production: no
 * authentication (of clients or of the inside end), no policy, no audit trail, no per-stream flow
 * control (the inside end pauses every upstream body while the WebSocket's buffer is over 4 MiB; a
 * slow client grows the outside end's memory), no cancellation, no reconnect, one connection, no
 * TLS. So it is not a peer to choose: it is the floor under mcp-tunnel's figures, what the same
 * parts cost with none of its work (docs/benchmarks.md, "The Node floor").
 *
 *   node floor-hop.js outside            → prints FLOOR_URL=http://127.0.0.1:PORT
 *   node floor-hop.js inside WS_URL ORIGIN → prints FLOOR_INSIDE_READY once connected
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { zeroMask } from '../connection/mask';
import { gatherWriter } from '../connection/ws-gather';
import { Pool } from '../dispatch/undici';
import { liftoffOnlyWasm } from '../wasm-liftoff';
import { noteForwardedBytes } from '../young-gc';

const REQ = 1;
const RES = 2;
const DATA = 3;
const END = 4;
const FAIL = 5;
const RECORD_HEAD = 9;
const HIGH_WATER = 4 * 2 ** 20;
/** A batch this large is sent at once, as mcp-tunnel's frame writer does. */
const MAX_BATCH = 256 * 1024;

/** Records queued this turn, sent as one WebSocket message on the next (setImmediate). */
class Batch {
  #parts: Buffer[] = [];
  #bytes = 0;
  #scheduled = false;
  readonly #gather: ReturnType<typeof gatherWriter>;

  constructor(
    private readonly ws: WebSocket,
    /** Called once a message sent through `ws.send` is written (the inside end resumes paused bodies). */
    private readonly onWritten: () => void = () => undefined,
  ) {
    // The same I/O as mcp-tunnel's (ws-gather.ts, mask.ts): one writev per message, no mask, no join.
    this.#gather = gatherWriter(ws, true);
  }

  add(type: number, id: number, payload?: Buffer): void {
    const head = Buffer.allocUnsafe(RECORD_HEAD);
    head[0] = type;
    head.writeUInt32BE(id, 1);
    head.writeUInt32BE(payload?.length ?? 0, 5);
    this.#parts.push(head);
    if (payload && payload.length > 0) this.#parts.push(payload);
    this.#bytes += RECORD_HEAD + (payload?.length ?? 0);
    if (this.#bytes >= MAX_BATCH) this.#flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
  }

  #flush(): void {
    if (this.#parts.length === 0) return;
    const parts = this.#parts;
    const bytes = this.#bytes;
    this.#parts = [];
    this.#bytes = 0;
    if (this.ws.readyState !== WebSocket.OPEN) return;
    noteForwardedBytes(bytes);
    if (!this.#gather?.(parts, bytes)) this.ws.send(Buffer.concat(parts, bytes), this.onWritten);
  }
}

/**
 * Calls `on(type, id, payload)` for each record of one WebSocket message (a Buffer: ws's default
 * `binaryType`, which ws-transport.ts sets too, joins a fragmented message into one).
 */
function eachRecord(buf: Buffer, on: (type: number, id: number, payload: Buffer) => void): void {
  noteForwardedBytes(buf.length);
  for (let at = 0; at + RECORD_HEAD <= buf.length; ) {
    const len = buf.readUInt32BE(at + 5);
    on(buf[at]!, buf.readUInt32BE(at + 1), buf.subarray(at + RECORD_HEAD, at + RECORD_HEAD + len));
    at += RECORD_HEAD + len;
  }
}

/** A request the floor cannot complete: 502 before the head, a cut connection after it. */
function fail(res: http.ServerResponse): void {
  if (res.headersSent) res.destroy();
  else res.writeHead(502).end();
}

function outside(): void {
  let tunnel: { ws: WebSocket; batch: Batch } | null = null;
  const open = new Map<number, http.ServerResponse>();
  let nextId = 1;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => {
      if (tunnel === null) return void res.writeHead(502).end();
      const id = nextId++;
      open.set(id, res);
      res.once('close', () => open.delete(id));
      const head = Buffer.from(JSON.stringify({ method: req.method, path: req.url, headers: req.headers }));
      tunnel.batch.add(REQ, id, head);
      if (chunks.length > 0) tunnel.batch.add(DATA, id, Buffer.concat(chunks));
      tunnel.batch.add(END, id);
    });
  });
  server.on('connection', (s) => s.setNoDelay(true));
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      tunnel = { ws, batch: new Batch(ws) };
      // A broken connection ends like a closed one (below): the floor keeps serving the next one.
      ws.on('error', () => ws.terminate());
      ws.on('message', (data: Buffer) =>
        eachRecord(data, (type, id, payload) => {
          const res = open.get(id);
          if (!res) return;
          if (type === RES) {
            const h = JSON.parse(payload.toString()) as { status: number; headers: Record<string, string | string[]> };
            res.writeHead(h.status, h.headers);
            if (String(h.headers['content-type']).startsWith('text/event-stream')) res.flushHeaders();
          } else if (type === DATA) res.write(payload);
          else if (type === END) res.end();
          else if (type === FAIL) fail(res);
        }),
      );
      ws.once('close', () => {
        if (tunnel?.ws !== ws) return;
        tunnel = null;
        for (const res of open.values()) fail(res);
        open.clear();
      });
    });
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`FLOOR_URL=http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
  });
}

/** Hop-by-hop and length headers the inside end does not pass to undici (it sets its own). */
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'content-length', 'upgrade']);

function inside(wsUrl: string, origin: string): void {
  liftoffOnlyWasm();
  const pool = new Pool(origin, { connections: 20_000, pipelining: 1 });
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false, generateMask: zeroMask });
  const paused = new Set<NodeJS.ReadableStream>();
  const room = (): boolean => ws.bufferedAmount < HIGH_WATER;
  const resume = (): void => {
    if (paused.size === 0 || !room()) return;
    for (const b of paused) b.resume();
    paused.clear();
  };
  const batch = new Batch(ws, resume);
  // Gathered messages go to the socket directly: its 'drain' says when there is room again.
  ws.once('upgrade', (res) => res.socket.on('drain', resume));
  const pending = new Map<number, { head: { method: string; path: string; headers: Record<string, string> }; body: Buffer[] }>();
  const send = async (id: number, head: { method: string; path: string; headers: Record<string, string> }, body: Buffer): Promise<void> => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(head.headers)) if (!NOT_FORWARDED.has(k)) headers[k] = v;
    const res = await pool.request({ method: head.method, path: head.path, headers, body: body.length > 0 ? body : null });
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !NOT_FORWARDED.has(k)) out[k] = v;
    batch.add(RES, id, Buffer.from(JSON.stringify({ status: res.statusCode, headers: out })));
    res.body.on('data', (c: Buffer) => {
      batch.add(DATA, id, c);
      if (!room()) {
        res.body.pause();
        paused.add(res.body);
      }
    });
    res.body.once('end', () => batch.add(END, id));
    res.body.once('error', () => batch.add(FAIL, id));
  };
  ws.once('open', () => process.stdout.write('FLOOR_INSIDE_READY\n'));
  ws.on('message', (data: Buffer) =>
    eachRecord(data, (type, id, payload) => {
      if (type === REQ) pending.set(id, { head: JSON.parse(payload.toString()) as never, body: [] });
      else if (type === DATA) pending.get(id)?.body.push(Buffer.from(payload));
      else if (type === END) {
        const p = pending.get(id);
        pending.delete(id);
        if (p) send(id, p.head, Buffer.concat(p.body)).catch(() => batch.add(FAIL, id));
      }
    }),
  );
  ws.once('close', () => process.exit(0));
  ws.once('error', (err) => {
    process.stderr.write(`floor inside: ${err.message}\n`);
    process.exit(1);
  });
}

if (require.main === module) {
  const [role, a, b] = process.argv.slice(2);
  if (role === 'outside') outside();
  else if (role === 'inside' && a && b) inside(a, b);
  else {
    process.stderr.write('usage: floor-hop.js outside | inside WS_URL UPSTREAM_ORIGIN\n');
    process.exit(2);
  }
}
