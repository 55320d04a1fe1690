import type { IncomingMessage } from 'node:http';
import { checkHostOrigin, compileHostOrigin, hostCheckActive } from '../../../src/gateway/host-origin';

function req(headers: Array<[string, string]>): IncomingMessage {
  const rawHeaders = headers.flat();
  const parsed: Record<string, string> = {};
  for (const [k, v] of headers) {
    const key = k.toLowerCase();
    parsed[key] = parsed[key] === undefined ? v : `${parsed[key]}, ${v}`;
  }
  return { headers: parsed, rawHeaders } as unknown as IncomingMessage;
}

const loopback = compileHostOrigin({ listenHost: '127.0.0.1', tls: false });
const codeOf = (r: IncomingMessage, s = loopback): string | null => checkHostOrigin(r, s)?.code ?? null;

describe('checkHostOrigin', () => {
  it('a loopback listener accepts loopback names on any port and refuses others or none', () => {
    expect(hostCheckActive(loopback)).toBe(true);
    for (const host of ['127.0.0.1:9', 'localhost', '[::1]:8080', '127.9.9.9']) expect(codeOf(req([['Host', host]]))).toBeNull();
    for (const host of ['evil.example', 'localhost.', '2130706433', 'localhost.evil.example']) expect(codeOf(req([['Host', host]]))).toBe('TUNNEL_HOST_DENIED');
    expect(codeOf(req([]))).toBe('TUNNEL_HOST_DENIED');
  });

  it('a wildcard listener without allowedHosts checks no Host; with it, exactly the list (ports sensibly)', () => {
    const open = compileHostOrigin({ listenHost: '0.0.0.0', tls: false });
    expect(hostCheckActive(open)).toBe(false);
    expect(codeOf(req([['Host', 'anything.example']]), open)).toBeNull();
    const listed = compileHostOrigin({ listenHost: '0.0.0.0', tls: false, allowedHosts: ['gw.example.com', 'alt.example.com:8443', 'lb.example.com:443'] });
    expect(codeOf(req([['Host', 'GW.example.com:1234']]), listed)).toBeNull();
    expect(codeOf(req([['Host', 'alt.example.com:8443']]), listed)).toBeNull();
    expect(codeOf(req([['Host', 'alt.example.com:8444']]), listed)).toBe('TUNNEL_HOST_DENIED');
    expect(codeOf(req([['Host', 'alt.example.com']]), listed)).toBe('TUNNEL_HOST_DENIED');
    expect(codeOf(req([['Host', 'lb.example.com']]), listed)).toBeNull();
    expect(codeOf(req([['Host', 'localhost']]), listed)).toBe('TUNNEL_HOST_DENIED');
  });

  it('Origin: same origin (scheme of the listener, Host, port), auth.resource, allowedOrigins or *', () => {
    const s = compileHostOrigin({ listenHost: '0.0.0.0', tls: true, allowedOrigins: ['http://localhost:5173'], publicUrl: 'https://mcp.example.com' });
    const host: [string, string] = ['Host', 'gw.internal:8443'];
    expect(codeOf(req([host]), s)).toBeNull();
    expect(codeOf(req([host, ['Origin', 'https://gw.internal:8443']]), s)).toBeNull();
    expect(codeOf(req([host, ['Origin', 'https://mcp.example.com']]), s)).toBeNull();
    expect(codeOf(req([host, ['Origin', 'http://localhost:5173']]), s)).toBeNull();
    for (const o of ['http://gw.internal:8443', 'https://gw.internal', 'null', 'http://localhost:5174', 'https://mcp.example.com:444', '']) {
      expect(codeOf(req([host, ['Origin', o]]), s)).toBe('TUNNEL_ORIGIN_DENIED');
    }
    expect(codeOf(req([host, ['Origin', 'http://localhost:5173'], ['origin', 'http://localhost:5173']]), s)).toBe('TUNNEL_ORIGIN_DENIED');
    const any = compileHostOrigin({ listenHost: '127.0.0.1', tls: false, allowedOrigins: ['*'] });
    expect(codeOf(req([['Host', 'localhost'], ['Origin', 'null']]), any)).toBeNull();
    expect(codeOf(req([['Host', 'evil.example'], ['Origin', 'null']]), any)).toBe('TUNNEL_HOST_DENIED');
  });
});
