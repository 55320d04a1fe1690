import { parseHostPort, parseOrigin } from '../../../src/http/host';

describe('parseHostPort', () => {
  it.each([
    ['LocalHost:8080', { hostname: 'localhost', port: 8080 }],
    ['127.0.0.1', { hostname: '127.0.0.1', port: null }],
    ['[0:0:0:0:0:0:0:1]:80', { hostname: '[::1]', port: 80 }],
    ['my_service.internal', { hostname: 'my_service.internal', port: null }],
  ])('%s', (text, want) => expect(parseHostPort(text)).toEqual(want));

  it.each(['', 'evil.com@127.0.0.1', '127.0.0.1/x', 'a b', 'host:0', 'host:65536', 'host:+1', '[::1', '[fe80::1%25eth0]', '127.000.0.1', 'loc%61lhost', 'host:', '-bad.example', 'a..b'])(
    'refuses %j',
    (text) => expect(parseHostPort(text)).toBeNull(),
  );
});

describe('parseOrigin', () => {
  it('makes default ports explicit and lower-cases', () => {
    expect(parseOrigin('HTTPS://App.Example')).toEqual({ scheme: 'https', hostname: 'app.example', port: 443 });
    expect(parseOrigin('http://localhost:5173')).toEqual({ scheme: 'http', hostname: 'localhost', port: 5173 });
  });
  it.each(['null', 'http://a.example/', 'http://u@a.example', 'a.example', 'http://a.example?x', 'http://a.example:99999'])('refuses %j', (t) => expect(parseOrigin(t)).toBeNull());
});
