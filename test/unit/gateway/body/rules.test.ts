import type { IncomingMessage } from 'node:http';
import { checkBodyHeaders, hasRequestBody } from '../../../../src/gateway/body';

/** A request head as node:http presents it (`headers` keeps the first Content-Type, `rawHeaders` all). */
function req(method: string, raw: Array<[string, string]>): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of raw) headers[k.toLowerCase()] ??= v;
  return { method, headers, rawHeaders: raw.flat() } as unknown as IncomingMessage;
}

const body = (...extra: Array<[string, string]>): Array<[string, string]> => [['Content-Length', '10'], ...extra];
const codeOf = (r: IncomingMessage): string | null => checkBodyHeaders(r)?.code ?? null;
const statusOf = (r: IncomingMessage): number | null => checkBodyHeaders(r)?.status ?? null;

describe('hasRequestBody', () => {
  it('is true for Content-Length > 0 or any Transfer-Encoding', () => {
    expect(hasRequestBody(req('POST', [['Content-Length', '1']]))).toBe(true);
    expect(hasRequestBody(req('POST', [['Content-Length', '0']]))).toBe(false);
    expect(hasRequestBody(req('POST', [['Transfer-Encoding', 'chunked']]))).toBe(true);
    expect(hasRequestBody(req('GET', []))).toBe(false);
  });
});

describe('checkBodyHeaders', () => {
  it('accepts a JSON POST with or without charset=utf-8', () => {
    expect(codeOf(req('POST', body(['Content-Type', 'application/json'])))).toBeNull();
    expect(codeOf(req('POST', body(['Content-Type', 'application/json; charset="UTF-8"'])))).toBeNull();
    expect(codeOf(req('POST', body()))).toBeNull();
    expect(codeOf(req('POST', body(['Content-Encoding', 'identity'])))).toBeNull();
  });

  it.each(['GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS'])('refuses a body on %s (400)', (method) => {
    expect(codeOf(req(method, body()))).toBe('TUNNEL_BODY_NOT_ALLOWED');
    expect(codeOf(req(method, [['Transfer-Encoding', 'chunked']]))).toBe('TUNNEL_BODY_NOT_ALLOWED');
    expect(codeOf(req(method, [['Content-Length', '0']]))).toBeNull();
  });

  it.each(['gzip', 'deflate', 'br', 'x-gzip', 'identity, gzip', 'GZIP'])('refuses Content-Encoding %s (415)', (enc) => {
    const r = req('POST', body(['Content-Type', 'application/json'], ['Content-Encoding', enc]));
    expect([codeOf(r), statusOf(r)]).toEqual(['TUNNEL_UNSUPPORTED_ENCODING', 415]);
  });

  it('refuses a second Content-Encoding line even when the first is identity', () => {
    expect(codeOf(req('POST', body(['Content-Encoding', 'identity'], ['content-encoding', 'gzip'])))).toBe('TUNNEL_UNSUPPORTED_ENCODING');
  });

  it.each([
    'application/json; charset=utf-7',
    'application/json; charset="utf-7"',
    'application/json; CHARSET=UTF-16',
    'application/json; charset=utf8',
    'application/json; charset=latin1',
    'text/plain; charset=utf-7',
    'application/json; charset=utf-8; charset=utf-7',
    'application/json; charset=utf-8; charset=utf-8',
    'application/json; x="; charset=utf-7"',
    'application/json; charset=utf-8; x="charset=utf-7"',
    'application/json; xcharset=utf-7',
  ])('refuses %j (415 unsupported charset)', (type) => {
    const r = req('POST', body(['Content-Type', type]));
    expect([codeOf(r), statusOf(r)]).toEqual(['TUNNEL_UNSUPPORTED_CHARSET', 415]);
  });

  it.each(['', 'application', 'application/json; charset = utf-7', 'application/json;charset=utf-7 x', 'json'])('refuses the unparseable Content-Type %j (415)', (type) => {
    const r = req('POST', body(['Content-Type', type]));
    expect([codeOf(r), statusOf(r)]).toEqual(['TUNNEL_UNSUPPORTED_CONTENT_TYPE', 415]);
  });

  it('refuses two Content-Type lines (400), with or without a body', () => {
    const two: Array<[string, string]> = [['Content-Type', 'application/json'], ['content-type', 'application/json; charset=utf-7']];
    expect([codeOf(req('POST', body(...two))), statusOf(req('POST', body(...two)))]).toEqual(['TUNNEL_DUPLICATE_CONTENT_TYPE', 400]);
    expect(codeOf(req('GET', two))).toBe('TUNNEL_DUPLICATE_CONTENT_TYPE');
  });

  it('does not look at Content-Type or Content-Encoding of a request without a body', () => {
    expect(codeOf(req('GET', [['Content-Type', 'application/json; charset=utf-7'], ['Content-Encoding', 'gzip']]))).toBeNull();
  });
});
