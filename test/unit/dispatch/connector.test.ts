import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { TlsFailureTracker } from '../../../src/dispatch/connector';

function fakeTlsSocket(over: Record<string, unknown> = {}): Socket & EventEmitter {
  return Object.assign(new EventEmitter(), {
    encrypted: true,
    getProtocol: () => 'TLSv1.3',
    localAddress: '127.0.0.1',
    localPort: 50000,
    remoteAddress: '127.0.0.1',
    remotePort: 8443,
    bytesRead: 0,
    ...over,
  }) as unknown as Socket & EventEmitter;
}

const socketError = (info: Record<string, unknown>) =>
  Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET', socket: info });

const info = { localAddress: '127.0.0.1', localPort: 50000, remoteAddress: '127.0.0.1', remotePort: 8443, bytesRead: 0 };

describe('TlsFailureTracker', () => {
  beforeEach(() => {
    jest.useFakeTimers();
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('remembers a TLS alert received before any data and finds it from undici SocketError info', () => {
    const tracker = new TlsFailureTracker();
    const socket = fakeTlsSocket();
    tracker.watch(socket);
    const alert = Object.assign(new Error('tlsv13 alert certificate required'), { code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
    socket.emit('error', alert);
    socket.emit('close');
    expect(tracker.lookup(socketError(info))).toBe(alert);
    expect(tracker.lookup(socketError({ ...info, localPort: 50001 }))).toBeUndefined();
    // Forgotten a while after the close.
    jest.advanceTimersByTime(10_000);
    expect(tracker.lookup(socketError(info))).toBeUndefined();
  });

  it('ignores alerts after response data, non-TLS errors and plain TCP sockets', () => {
    const tracker = new TlsFailureTracker();
    const late = fakeTlsSocket({ bytesRead: 10 });
    tracker.watch(late);
    late.emit('error', Object.assign(new Error('x'), { code: 'ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC' }));
    const reset = fakeTlsSocket({ localPort: 50002 });
    tracker.watch(reset);
    reset.emit('error', Object.assign(new Error('x'), { code: 'ECONNRESET' }));
    const plain = fakeTlsSocket({ encrypted: undefined, localPort: 50003 });
    plain.on('error', () => undefined);
    tracker.watch(plain);
    plain.emit('error', Object.assign(new Error('x'), { code: 'ERR_SSL_WHATEVER' }));
    expect(tracker.lookup(socketError(info))).toBeUndefined();
    expect(tracker.lookup(socketError({ ...info, localPort: 50002 }))).toBeUndefined();
    expect(tracker.lookup(socketError({ ...info, localPort: 50003 }))).toBeUndefined();
  });

  it('lookup tolerates errors without socket info', () => {
    const tracker = new TlsFailureTracker();
    expect(tracker.lookup(new Error('x'))).toBeUndefined();
    expect(tracker.lookup(null)).toBeUndefined();
    expect(tracker.lookup({ socket: null })).toBeUndefined();
  });
});
