/**
 * A tiny HTTP proxy that records through the replay `Recorder` API, standing in for the gateway and
 * proxy taps until they are wired: `/mcp/{server}` is forwarded to that server's upstream URL, bytes
 * first, then copied to the tap (never buffered). Like the gateway (protocol.md §9), a legacy
 * HTTP+SSE stream's `event: endpoint` is rewritten to `/mcp/{server}/…` and `/mcp/{server}/{path}`
 * is forwarded to that path on the upstream's origin.
 */
import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CLIENT_GONE_REASON, Recorder } from '../../src/replay';

export interface RecordingProxy {
  /** `http://127.0.0.1:PORT/mcp/{server}`. */
  url(server: string): string;
  /** GET responses (standalone streams) whose head has been forwarded. */
  getStreams(): number;
  close(): Promise<void>;
}

export async function startRecordingProxy(recorder: Recorder, upstreams: Record<string, string>): Promise<RecordingProxy> {
  let getStreams = 0;
  const open = new Set<ServerResponse>();
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const m = /^\/mcp\/([^/?]+)(\/[^?]+)?(\?.*)?$/.exec(req.url ?? '');
    const target = m === null ? undefined : upstreams[m[1]!];
    if (target === undefined) {
      res.writeHead(404).end();
      return;
    }
    const up = m![2] === undefined ? new URL(target) : new URL(`${m![2]}${m![3] ?? ''}`, target);
    let announced = false;
    const sid = req.headers['mcp-session-id'];
    const tap = recorder.exchange({ id: randomUUID(), server: m![1]!, session: typeof sid === 'string' ? sid : null });
    tap.requestHead({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.rawHeaders });
    const headers = { ...req.headers, host: up.host };
    delete headers.connection;
    const out = request(up, { method: req.method, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      res.flushHeaders();
      tap.responseHead({ status: upRes.statusCode ?? 502, headers: upRes.rawHeaders });
      if (req.method === 'GET' && upRes.statusCode === 200) getStreams += 1;
      upRes.on('data', (chunk: Buffer) => {
        let c = chunk;
        if (!announced && req.method === 'GET') {
          announced = true;
          const text = c.toString('latin1');
          const rewritten = text.replace(/^(event: endpoint\r?\ndata: )\//, `$1/mcp/${m![1]!}/`);
          if (rewritten !== text) c = Buffer.from(rewritten, 'latin1');
        }
        res.write(c);
        tap.responseChunk(c);
      });
      upRes.on('end', () => {
        res.end();
        tap.end();
      });
      upRes.on('error', (err) => {
        res.destroy();
        tap.reset(err.message);
      });
    });
    out.on('error', (err) => {
      tap.reset(err.message);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.on('data', (c: Buffer) => {
      out.write(c);
      tap.requestChunk(c);
    });
    req.on('end', () => out.end());
    res.on('close', () => {
      if (!res.writableFinished) {
        out.destroy();
        tap.reset(CLIENT_GONE_REASON);
      }
    });
  };
  const server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (name) => `http://127.0.0.1:${port}/mcp/${name}`,
    getStreams: () => getStreams,
    close: async () => {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Records what `exercise` does through a recording proxy in front of `upstreams` into `file`; the
 * proxy and the recorder are closed (footer written) whether or not `exercise` succeeds.
 */
export async function recordThrough<T>(file: string, upstreams: Record<string, string>, exercise: (proxy: RecordingProxy) => Promise<T>): Promise<T> {
  const recorder = await Recorder.open({ file, side: 'test' });
  const proxy = await startRecordingProxy(recorder, upstreams);
  try {
    return await exercise(proxy);
  } finally {
    await proxy.close();
    await recorder.close();
  }
}
