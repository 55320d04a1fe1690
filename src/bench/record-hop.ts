/**
 * Parts of the recording-overhead measurement (`npm run bench:record`, docs/replay.md "Overhead"):
 * an HTTP hop that forwards a stream and copies it to a `Recorder` tap the way the gateway and proxy
 * taps do (bytes first, tap after), an SSE source, a client that times a whole stream, and a
 * throttled destination for the recording file (a FIFO drained at a fixed rate by a child process).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { Recorder } from '../replay';

/** A listening HTTP server on loopback. */
export interface Listening {
  url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<Listening> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** 64 KiB of whole SSE events (`notifications/message`, ~1 KiB each): what a busy stream carries. */
export function sseChunk(): Buffer {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < 63 * 1024; i++) {
    const data = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: `${i} ${'x'.repeat(960)}` } });
    const ev = `id: ${i}\nevent: message\ndata: ${data}\n\n`;
    parts.push(ev);
    size += Buffer.byteLength(ev);
  }
  return Buffer.from(parts.join(''), 'utf8');
}

/** `GET /sse?n=BYTES` streams at least BYTES bytes of SSE events, respecting backpressure. */
export function startSseSource(): Promise<Listening> {
  const chunk = sseChunk();
  return listen(
    createServer((req, res) => {
      let left = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? 0);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const write = (): void => {
        while (left > 0) {
          left -= chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
    }),
  );
}

/**
 * A forwarding hop: `GET /…` goes to `upstream` + the same path. Response bytes are written to the
 * client first, then given to the recorder's tap (when there is a recorder), as the taps do.
 */
export function startHop(upstream: string, recorder: Recorder | undefined): Promise<Listening> {
  return listen(
    createServer((req, res) => {
      const tap = recorder?.exchange({ id: randomUUID(), server: 'bench', session: null });
      tap?.requestHead({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.rawHeaders });
      const out = request(new URL(req.url ?? '/', upstream), { method: req.method, headers: { accept: 'text/event-stream' } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        tap?.responseHead({ status: up.statusCode ?? 502, headers: up.rawHeaders });
        up.on('data', (c: Buffer) => {
          if (!res.write(c)) {
            up.pause();
            res.once('drain', () => up.resume());
          }
          tap?.responseChunk(c);
        });
        up.on('end', () => {
          res.end();
          tap?.end();
        });
      });
      out.on('error', () => res.destroy());
      out.end();
    }),
  );
}


/**
 * The drainer: reads the FIFO at `rate` bytes/s into the output file, at most `read` bytes per read
 * (64 KiB, a Linux pipe's capacity: what `cat` would take in one go); unlimited after SIGUSR2,
 * throttled again after SIGHUP (it prints `throttled` once it has switched).
 */
const DRAINER = `
const fs = require('node:fs');
const [fifo, out, rate, read] = process.argv.slice(1);
let fast = false;
process.on('SIGUSR2', () => { fast = true; });
process.on('SIGHUP', () => { fast = false; console.log('throttled'); });
const src = fs.createReadStream(fifo, { highWaterMark: Number(read) });
const dst = fs.createWriteStream(out);
src.on('data', (c) => {
  dst.write(c);
  if (fast) return;
  src.pause();
  setTimeout(() => src.resume(), (c.length / Number(rate)) * 1000);
});
src.on('end', () => dst.end());
`;

/** A throttled destination: write `path` (a FIFO); what arrives is kept in `out`. */
export interface ThrottledFile {
  path: string;
  out: string;
  /** Drain at full speed from now on (so closing the recorder does not wait at the throttled rate). */
  unthrottle(): void;
  /** Drain at the throttled rate again; resolves once the drainer has switched. */
  throttle(): Promise<void>;
  /** Resolves when the drainer has read to the end (the writer closed) and exited. */
  done: Promise<void>;
  kill(): void;
}

/**
 * Creates a FIFO at `path` and starts a child that drains it at `bytesPerSecond` into `out`, taking at
 * most `readBytes` per read (the destination's granularity: how often it wakes the writer).
 */
export async function throttledFile(path: string, out: string, bytesPerSecond: number, readBytes = 64 * 1024): Promise<ThrottledFile> {
  await promisify(execFile)('mkfifo', ['-m', '600', path]);
  const child: ChildProcess = spawn(process.execPath, ['-e', DRAINER, path, out, String(bytesPerSecond), String(readBytes)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  return {
    path,
    out,
    unthrottle: () => void child.kill('SIGUSR2'),
    throttle: () =>
      new Promise<void>((resolve) => {
        const on = (l: string): void => {
          if (l !== 'throttled') return;
          lines.off('line', on);
          resolve();
        };
        lines.on('line', on);
        child.kill('SIGHUP');
      }),
    done,
    kill: () => void child.kill('SIGKILL'),
  };
}
