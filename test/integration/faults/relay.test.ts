/**
 * The fault-injection relay itself, against a loopback echo server: pass-through, delay, stall
 * (sockets stay open, nothing moves), cut, refuse, and its counters.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { waitFor } from '../../helpers';
import { startRelay, type Relay } from '../../helpers/relay';

interface Client {
  socket: net.Socket;
  received: string;
  closed: boolean;
  error: string | null;
}

function connect(port: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const c: Client = { socket, received: '', closed: false, error: null };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (c.received += d));
    socket.on('error', (err: NodeJS.ErrnoException) => (c.error = err.code ?? err.message));
    socket.on('close', () => (c.closed = true));
    socket.once('connect', () => resolve(c));
    socket.once('error', reject);
  });
}

describe('test relay', () => {
  let echo: net.Server;
  let relay: Relay | null = null;
  const clients: Client[] = [];

  beforeEach(async () => {
    echo = net.createServer((s) => {
      s.on('error', () => undefined);
      s.pipe(s);
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    relay = await startRelay((echo.address() as AddressInfo).port);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy();
    await relay?.close();
    relay = null;
    await new Promise<void>((resolve) => {
      echo.close(() => resolve());
      echo.unref();
    });
  });

  const open = async (): Promise<Client> => {
    const c = await connect(relay!.port);
    clients.push(c);
    return c;
  };

  it('passes bytes through and counts them', async () => {
    const c = await open();
    c.socket.write('hello');
    await waitFor(() => c.received === 'hello');
    expect(relay!.counters).toMatchObject({ accepted: 1, open: 1, bytesUp: 5, bytesDown: 5 });
  });

  it('adds the configured delay', async () => {
    relay!.setDelay(150);
    const c = await open();
    const t0 = Date.now();
    c.socket.write('x');
    await waitFor(() => c.received === 'x', { timeoutMs: 3000 });
    // Delayed on the way up and on the way down.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('stalls without closing, while new connections forward', async () => {
    const c = await open();
    c.socket.write('a');
    await waitFor(() => c.received === 'a');
    expect(relay!.stall()).toBe(1);
    c.socket.write('b');
    await waitFor(() => relay!.counters.chunksDropped >= 1);
    const fresh = await open();
    fresh.socket.write('c');
    await waitFor(() => fresh.received === 'c');
    // By the time a later connection has echoed, the stalled one would have too.
    expect(c.received).toBe('a');
    expect(c.closed).toBe(false);
  });

  it('cuts every connection with a reset, and refuses new ones while told to', async () => {
    const c = await open();
    c.socket.write('a');
    await waitFor(() => c.received === 'a');
    expect(relay!.cut()).toBe(1);
    await waitFor(() => c.closed);
    expect(c.error).toBe('ECONNRESET');

    relay!.refuse(true);
    // The reset may arrive before or after 'connect': watch for the close only.
    const refused = net.connect({ host: '127.0.0.1', port: relay!.port });
    let refusedClosed = false;
    refused.on('error', () => undefined);
    refused.on('close', () => (refusedClosed = true));
    await waitFor(() => refusedClosed);
    expect(relay!.counters.refused).toBe(1);
    relay!.refuse(false);
    const ok = await open();
    ok.socket.write('z');
    await waitFor(() => ok.received === 'z');
  });
});
