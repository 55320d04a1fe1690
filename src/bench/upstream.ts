import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A minimal upstream for benchmarks: answers every POST with a ~1 KB JSON-RPC result, and
 * `GET /bytes?n=N` with N bytes, so we measure the tunnel, not an MCP SDK.
 * Run as a child process: prints `UPSTREAM_URL=<url>`.
 */
const reply = Buffer.from(
  JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'x'.repeat(960) }] } }),
);
const chunk = Buffer.alloc(64 * 1024, 97);

const server = http.createServer({ noDelay: true, keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/bytes')) {
    let left = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
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
    return;
  }
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': reply.length });
    res.end(reply);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`UPSTREAM_URL=http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
