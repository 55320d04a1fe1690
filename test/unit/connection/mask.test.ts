import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Subscription } from 'rxjs';
import { dial } from '../../../src/connection';
import { maskingUseless } from '../../../src/connection/mask';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * A bare WebSocket server on loopback that completes the upgrade by hand and hands over the raw bytes
 * of the client's frames, mask key included (`ws`'s own server unmasks them before anyone sees them).
 */
function rawWsServer(): Promise<{ server: Server; port: number; frames: Promise<Buffer>; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  let gotFrames: (b: Buffer) => void = () => undefined;
  const frames = new Promise<Buffer>((resolve) => (gotFrames = resolve));
  const server = createServer((socket) => {
    sockets.add(socket);
    let buf = Buffer.alloc(0);
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const key = /sec-websocket-key: *(\S+)/i.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? '';
        const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        upgraded = true;
        buf = buf.subarray(end + 4);
      }
      if (buf.length > 0) gotFrames(buf);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, frames, sockets })));
}

describe('WebSocket masking on the tunnel connection (D54)', () => {
  let sub: Subscription | null = null;
  let server: Server | null = null;
  let sockets = new Set<Socket>();
  afterEach(async () => {
    sub?.unsubscribe();
    sub = null;
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = null;
  });

  it('is useless inside TLS and on loopback, and kept over plain ws:// to another host', () => {
    expect(maskingUseless('wss://gateway.example.com/tunnel/t1')).toBe(true);
    expect(maskingUseless('ws://127.0.0.1:8080/tunnel/t1')).toBe(true);
    expect(maskingUseless('ws://127.9.8.7/tunnel/t1')).toBe(true);
    expect(maskingUseless('ws://localhost:8080/tunnel/t1')).toBe(true);
    expect(maskingUseless('ws://[::1]:8080/tunnel/t1')).toBe(true);
    expect(maskingUseless('ws://gateway.example.com/tunnel/t1')).toBe(false);
    expect(maskingUseless('ws://10.0.0.7/tunnel/t1')).toBe(false);
    expect(maskingUseless('ws://127.0.0.1.example.com/tunnel/t1')).toBe(false);
    expect(maskingUseless('not a url')).toBe(false);
  });

  it('a proxy dialling a loopback gateway sends its frames with an all-zero mask: the payload goes out as it is', async () => {
    const raw = await rawWsServer();
    server = raw.server;
    sockets = raw.sockets;
    const payload = Buffer.from('frame bytes the gateway must receive unchanged');
    let failed: (err: unknown) => void = () => undefined;
    const dialFailed = new Promise<never>((_, reject) => (failed = reject));
    sub = dial({ url: `ws://127.0.0.1:${raw.port}/tunnel/t1`, caFile: null, maxPayload: 1 << 20, openTimeoutMs: 5_000 }).subscribe({
      next: (s) => s.transport.send(payload),
      error: (err: unknown) => failed(err),
    });
    const bytes = await Promise.race([raw.frames, dialFailed]);
    expect(bytes[0]).toBe(0x82); // FIN + binary
    expect(bytes[1]! & 0x80).toBe(0x80); // still a masked frame, as RFC 6455 requires of a client
    expect(bytes[1]! & 0x7f).toBe(payload.length);
    expect([...bytes.subarray(2, 6)]).toEqual([0, 0, 0, 0]);
    expect(bytes.subarray(6, 6 + payload.length).equals(payload)).toBe(true);
  });
});
