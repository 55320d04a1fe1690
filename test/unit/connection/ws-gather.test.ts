import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Subscription } from 'rxjs';
import WebSocket, { WebSocketServer } from 'ws';
import { dial, wsTransport, type DialedSocket } from '../../../src/connection';
import { messageHeader } from '../../../src/connection/ws-gather';
import type { FrameTransport } from '../../../src/mux';

/** Messages of several parts, with lengths on each side of the 7-bit, 16-bit and 64-bit length forms. */
const CASES: number[][] = [[3, 4], [60, 65], [100, 30_000], [65_000, 535], [65_536 - 20, 10, 10], [70_000, 10, 200_000]];

describe('gathered WebSocket writes (D56)', () => {
  let wss: WebSocketServer | null = null;
  let sub: Subscription | null = null;
  afterEach(async () => {
    sub?.unsubscribe();
    sub = null;
    for (const c of wss?.clients ?? []) c.terminate();
    await new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve()));
    wss = null;
  });

  it('messageHeader encodes the three length forms, with an all-zero mask key for a client', () => {
    expect([...messageHeader(5, false)]).toEqual([0x82, 5]);
    expect([...messageHeader(126, false)]).toEqual([0x82, 126, 0, 126]);
    expect([...messageHeader(65_536, true)]).toEqual([0x82, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  });

  it('a proxy (zero mask) and a gateway exchange parted messages unchanged, without ws.send and its copy', async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve) => wss!.once('listening', () => resolve()));
    const port = (wss.address() as AddressInfo).port;
    const serverSide = new Promise<WebSocket>((resolve) => wss!.once('connection', (ws) => resolve(ws)));
    // The subscription owns the socket: held until afterEach.
    const socket = await new Promise<DialedSocket>((resolve, reject) => {
      sub = dial({ url: `ws://127.0.0.1:${port}/t`, caFile: null, maxPayload: 1 << 20, openTimeoutMs: 5_000 }).subscribe({ next: resolve, error: reject });
    });
    const serverWs = await serverSide;
    const gateway = wsTransport(serverWs, 'proxy');
    const proxy = socket.transport;
    try {
      for (const [from, to, fromWs] of [
        [proxy, gateway, socket.ws],
        [gateway, proxy, serverWs],
      ] as Array<[FrameTransport, FrameTransport, WebSocket]>) {
        const received: Buffer[] = [];
        to.setHandler({ onMessage: (m) => received.push(Buffer.from(m)), onClose: () => undefined });
        const send = jest.spyOn(fromWs, 'send');
        const sent = CASES.map((lengths) => lengths.map((n) => randomBytes(n)));
        for (const parts of sent) from.sendParts!(parts, parts.reduce((n, p) => n + p.length, 0));
        // Bounded: a lost message fails here rather than at the test timeout.
        for (let turns = 0; received.length < sent.length && turns < 10_000; turns++) await new Promise((resolve) => setImmediate(resolve));
        expect(send).not.toHaveBeenCalled();
        send.mockRestore();
        expect(received.map((m) => m.toString('hex'))).toEqual(sent.map((parts) => Buffer.concat(parts).toString('hex')));
      }
    } finally {
      socket.ws.terminate();
    }
  });
});
