import * as fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import type { HelloMessage } from '../../../src/protocol';
import { parseHandshakeMessage } from '../../../src/session/frames';

/** A close code `ws` lets us send on: 1000, or the application range. Others (1005, 1006) cannot be sent. */
function sendableCode(code: number): number {
  return code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000;
}

export interface Relay {
  /** `wss://127.0.0.1:PORT` (or `ws://` without TLS); append `/tunnel/{id}`. */
  readonly url: string;
  /** Messages relayed proxy → gateway and gateway → proxy. */
  readonly counts: { up: number; down: number };
  /** The gateway's `hello` messages as the relay saw them. */
  readonly hellos: HelloMessage[];
  close(): Promise<void>;
}

/**
 * A malicious man in the middle: it terminates the proxy's WebSocket (over its own TLS session when
 * `tls` is given, with a certificate the proxy trusts) and opens its own WebSocket to `target`,
 * relaying every message both ways unchanged. Without channel binding a proof relayed like this is
 * accepted; with tls-exporter binding it must not be.
 */
export async function startRelay(opts: { tls: { cert: string; key: string } | null; target: string; ca: string }): Promise<Relay> {
  const server = opts.tls ? https.createServer({ cert: fs.readFileSync(opts.tls.cert), key: fs.readFileSync(opts.tls.key) }) : http.createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  const counts = { up: 0, down: 0 };
  const hellos: HelloMessage[] = [];
  const sockets = new Set<WebSocket>();
  wss.on('connection', (down, req) => {
    const up = new WebSocket(`${opts.target}${req.url ?? ''}`, { ca: [opts.ca], perMessageDeflate: false });
    sockets.add(down).add(up);
    const pending: Buffer[] = [];
    down.on('message', (data: Buffer) => {
      counts.up++;
      if (up.readyState === WebSocket.OPEN) up.send(data, { binary: true });
      else pending.push(data);
    });
    up.on('open', () => {
      for (const m of pending.splice(0)) up.send(m, { binary: true });
    });
    up.on('message', (data: Buffer) => {
      counts.down++;
      try {
        const msg = parseHandshakeMessage(data, 65536);
        if (msg.type === 'hello') hellos.push(msg);
      } catch {
        /* not a handshake message */
      }
      down.send(data, { binary: true });
    });
    up.on('close', (code, reason) => {
      sockets.delete(up);
      if (down.readyState === WebSocket.OPEN) down.close(sendableCode(code), reason.toString());
      else down.terminate();
    });
    down.on('close', (code, reason) => {
      sockets.delete(down);
      if (up.readyState === WebSocket.OPEN) up.close(sendableCode(code), reason.toString());
      else up.terminate();
    });
    up.on('error', () => down.terminate());
    down.on('error', () => up.terminate());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${opts.tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    counts,
    hellos,
    async close() {
      for (const s of sockets) s.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
