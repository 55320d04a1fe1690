import { prepareRequestHeaders } from '../../../src/dispatch/request-headers';
import type { UpstreamError } from '../../../src/dispatch';
import type { HeaderList } from '../../../src/http';

function prepare(list: HeaderList) {
  return prepareRequestHeaders(list, 'files', 'http://127.0.0.1:1');
}

function failure(list: HeaderList): UpstreamError {
  try {
    prepare(list);
  } catch (err) {
    return err as UpstreamError;
  }
  throw new Error('expected BAD_REQUEST');
}

describe('prepareRequestHeaders', () => {
  it('flattens what requestHeadersForUpstream keeps, in order', () => {
    expect(
      prepare([
        ['host', 'gw'],
        ['authorization', 'Bearer x'],
        ['accept', 'application/json, text/event-stream'],
        ['mcp-session-id', 's1'],
        ['x-rep', '1'],
        ['x-rep', '2'],
      ]),
    ).toEqual({ flat: ['accept', 'application/json, text/event-stream', 'mcp-session-id', 's1', 'x-rep', '1', 'x-rep', '2'], contentLength: null });
  });

  it('removes every header undici would throw on', () => {
    const { flat } = prepare([
      ['connection', 'close'],
      ['keep-alive', 'timeout=5'],
      ['transfer-encoding', 'chunked'],
      ['upgrade', 'h2c'],
      ['expect', '100-continue'],
      ['host', 'a'],
      ['host', 'b'],
      [':authority', 'gw'],
      ['accept', '*/*'],
    ]);
    expect(flat).toEqual(['accept', '*/*']);
  });

  it('keeps a single content-length and reports it', () => {
    expect(prepare([['content-length', '42']])).toEqual({ flat: ['content-length', '42'], contentLength: 42 });
  });

  it('collapses identical repeated or listed content-length values', () => {
    expect(prepare([['content-length', '42'], ['content-length', '42, 042']])).toEqual({ flat: ['content-length', '42'], contentLength: 42 });
  });

  it.each<[string, HeaderList]>([
    ['conflicting content-length', [['content-length', '1'], ['content-length', '2']]],
    ['conflicting list', [['content-length', '1, 2']]],
    ['non-numeric content-length', [['content-length', '-1']]],
    ['empty content-length', [['content-length', '']]],
    ['huge content-length', [['content-length', '99999999999999999999']]],
    ['invalid name', [['bad name', 'x']]],
    ['CRLF in value', [['x-inject', 'a\r\nx-evil: 1']]],
    ['NUL in value', [['x-nul', 'a\u0000b']]],
    ['non-latin1 value', [['x-snow', '\u2603']]],
  ])('%s -> TUNNEL_UPSTREAM_BAD_REQUEST', (_why, list) => {
    const err = failure(list);
    expect(err.code).toBe('TUNNEL_UPSTREAM_BAD_REQUEST');
    expect(err.server).toBe('files');
    expect(err.origin).toBe('http://127.0.0.1:1');
  });

  it('names the offending header, never its value', () => {
    const err = failure([['x-token', 'SECRET\r\n']]);
    expect(err.message).toContain('x-token');
    expect(err.message).not.toContain('SECRET');
  });

  it('accepts obs-text (latin1) and tabs in values', () => {
    expect(prepare([['x-name', 'caf\u00e9\tok']]).flat).toEqual(['x-name', 'caf\u00e9\tok']);
  });
});
