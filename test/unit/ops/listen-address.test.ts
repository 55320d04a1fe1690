import { isLoopbackHost } from '../../../src/config';
import { parseOpsListen, DEFAULT_OPS_LISTEN } from '../../../src/ops';

describe('parseOpsListen', () => {
  it.each([
    [DEFAULT_OPS_LISTEN, { host: '127.0.0.1', port: 9464 }],
    ['0.0.0.0:9464', { host: '0.0.0.0', port: 9464 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    ['[::]:65535', { host: '::', port: 65535 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
  ])('accepts %s', (text, expected) => {
    expect(parseOpsListen(text)).toEqual(expected);
  });

  it.each(['', '9464', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:+80', '127.0.0.1:123456', '::1:9464', '[127.0.0.1]:9464', 'example.com:9464', '127.0.0.1:80 ', ' 127.0.0.1:80', '127.1:80', '[::1%lo]:9464'])(
    'refuses %j with TUNNEL_OPS_LISTEN_INVALID',
    (text) => {
      expect(() => parseOpsListen(text)).toThrow(expect.objectContaining({ code: 'TUNNEL_OPS_LISTEN_INVALID' }));
    },
  );

  it('tells loopback from other addresses', () => {
    expect(['127.0.0.1', '127.9.9.9', '::1', 'LOCALHOST'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', '128.0.0.1'].some(isLoopbackHost)).toBe(false);
  });
});
