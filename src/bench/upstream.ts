import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A minimal upstream for benchmarks, so we measure the tunnel, not an MCP SDK:
 * - any POST: a ~1 KB JSON-RPC result;
 * - `GET /bytes?n=N`: N bytes;
 * - `GET /sse?events=E&intervalMs=I`: an SSE stream of E JSON-RPC notifications, the first at once
 *   and then one every I ms (default 1000), then the end of the response. Each event carries
 *   `"t":"<ns>"`, `process.hrtime.bigint()` when it was written: CLOCK_MONOTONIC, the same clock in
 *   every process of this machine, so the reader's own hrtime minus `t` is the event's latency.
 * - `GET /rsse?stream=K&events=E&intervalMs=I`: a resumable SSE stream (continuity.ts): event i
 *   (`id: i`) is due at the stream's first request + i·I ms; a request with `Last-Event-ID: j`
 *   continues with event j+1 (those already due at once), so a resumed stream loses and repeats
 *   nothing; the response ends after event E-1.
 * Run as a child process: prints `UPSTREAM_URL=<url>`.
 */
const reply = Buffer.from(
  JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'x'.repeat(960) }] } }),
);
const chunk = Buffer.alloc(64 * 1024, 97);

function bytes(url: URL, res: http.ServerResponse): void {
  let left = Number(url.searchParams.get('n') ?? 0);
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': left });
  const write = (): void => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once('drain', write);
    }
    res.end();
  };
  write();
}

function sse(url: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
  const events = Number(url.searchParams.get('events') ?? 10);
  const intervalMs = Number(url.searchParams.get('intervalMs') ?? 1000);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let sent = 0;
  const send = (): void => {
    const t = process.hrtime.bigint().toString();
    res.write(`id: ${sent}\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":{"i":${sent},"t":"${t}"}}}\n\n`);
    if (++sent >= events) {
      clearInterval(timer);
      res.end();
    }
  };
  const timer = setInterval(send, intervalMs);
  req.socket.once('close', () => clearInterval(timer));
  send();
}

/** First request time of each resumable stream (by `stream`), so a resumption finds its schedule. */
const resumableStarts = new Map<string, number>();

function resumableSse(url: URL, req: http.IncomingMessage, res: http.ServerResponse): void {
  const key = url.searchParams.get('stream') ?? '';
  const events = Number(url.searchParams.get('events') ?? 10);
  const intervalMs = Number(url.searchParams.get('intervalMs') ?? 1000);
  const start = resumableStarts.get(key) ?? Date.now();
  resumableStarts.set(key, start);
  const last = req.headers['last-event-id'];
  let next = typeof last === 'string' ? Number(last) + 1 : 0;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let timer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    while (next < events && start + next * intervalMs <= Date.now()) {
      res.write(`id: ${next}\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"data":{"i":${next}}}}\n\n`);
      next++;
    }
    if (next >= events) return void res.end();
    timer = setTimeout(pump, Math.max(0, start + next * intervalMs - Date.now()));
  };
  req.socket.once('close', () => clearTimeout(timer));
  pump();
}

const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'GET' && url.pathname.startsWith('/bytes')) return bytes(url, res);
  if (req.method === 'GET' && url.pathname.startsWith('/sse')) return sse(url, req, res);
  if (req.method === 'GET' && url.pathname.startsWith('/rsse')) return resumableSse(url, req, res);
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length });
    res.end(reply);
  });
});
// Many SSE streams connect at once: a deep accept queue (the kernel caps it at net.core.somaxconn).
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`UPSTREAM_URL=http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
