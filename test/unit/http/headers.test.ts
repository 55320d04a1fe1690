import {
  HOP_BY_HOP_HEADERS,
  connectionTokens,
  fromNodeRawHeaders,
  getHeader,
  getHeaderValues,
  requestHeadersForUpstream,
  responseHeadersForClient,
  stripHopByHop,
  toNodeHeaders,
  type HeaderList,
} from '../../../src/http';

describe('fromNodeRawHeaders / toNodeHeaders', () => {
  it('lower-cases names, keeps values, order and repeats', () => {
    const raw = ['Content-Type', 'application/json', 'Set-Cookie', 'a=1', 'X-Mixed', ' v ', 'set-cookie', 'b=2'];
    expect(fromNodeRawHeaders(raw)).toEqual([
      ['content-type', 'application/json'],
      ['set-cookie', 'a=1'],
      ['x-mixed', ' v '],
      ['set-cookie', 'b=2'],
    ]);
  });

  it('ignores a trailing unpaired entry and handles empty input', () => {
    expect(fromNodeRawHeaders(['a', '1', 'b'])).toEqual([['a', '1']]);
    expect(fromNodeRawHeaders([])).toEqual([]);
  });

  it('keeps latin1 (obs-text) values byte-exact', () => {
    expect(fromNodeRawHeaders(['X-Name', 'caf\u00e9'])).toEqual([['x-name', 'caf\u00e9']]);
  });

  it('flattens to the writeHead array form, repeats kept', () => {
    const list: HeaderList = [
      ['set-cookie', 'a=1'],
      ['content-type', 'text/event-stream'],
      ['set-cookie', 'b=2'],
    ];
    expect(toNodeHeaders(list)).toEqual(['set-cookie', 'a=1', 'content-type', 'text/event-stream', 'set-cookie', 'b=2']);
    expect(fromNodeRawHeaders(toNodeHeaders(list))).toEqual(list);
    expect(toNodeHeaders([])).toEqual([]);
  });
});

describe('stripHopByHop', () => {
  it('drops every fixed hop-by-hop header', () => {
    const list: HeaderList = HOP_BY_HOP_HEADERS.map((n) => [n, 'x']);
    list.push(['content-type', 'application/json']);
    expect(stripHopByHop(list)).toEqual([['content-type', 'application/json']]);
    expect([...HOP_BY_HOP_HEADERS].sort()).toEqual(
      ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'].sort(),
    );
  });

  it('drops names listed in Connection (all Connection headers, any case, whitespace and empty items)', () => {
    const list: HeaderList = [
      ['connection', 'Keep-Alive, X-Foo ,,'],
      ['Connection', 'x-bar'],
      ['x-foo', '1'],
      ['X-Bar', '2'],
      ['x-baz', '3'],
    ];
    expect(stripHopByHop(list)).toEqual([['x-baz', '3']]);
    expect([...connectionTokens(list)]).toEqual(['keep-alive', 'x-foo', 'x-bar']);
  });

  it('drops extraDrop names case-insensitively and HTTP/2 pseudo-headers', () => {
    const list: HeaderList = [
      [':method', 'POST'],
      [':path', '/mcp'],
      ['host', 'h'],
      ['accept', '*/*'],
    ];
    expect(stripHopByHop(list, ['HOST'])).toEqual([['accept', '*/*']]);
  });

  it('does not mutate its input and keeps order', () => {
    const list: HeaderList = [
      ['b', '1'],
      ['te', 'trailers'],
      ['a', '2'],
    ];
    const copy = JSON.parse(JSON.stringify(list)) as HeaderList;
    expect(stripHopByHop(list)).toEqual([
      ['b', '1'],
      ['a', '2'],
    ]);
    expect(list).toEqual(copy);
  });
});

describe('requestHeadersForUpstream', () => {
  it('drops host, authorization, expect and hop-by-hop; keeps MCP and end-to-end headers byte-exact in order', () => {
    const kept: HeaderList = [
      ['accept', 'application/json, text/event-stream'],
      ['content-type', 'application/json'],
      ['content-length', '17'],
      ['mcp-session-id', 'abc-DEF_123'],
      ['mcp-protocol-version', '2025-06-18'],
      ['mcp-method', 'tools/call'],
      ['mcp-name', 'get_weather'],
      ['mcp-param-city', 'Z\u00fcrich'],
      ['last-event-id', '42'],
      ['origin', 'https://app.example'],
      ['cookie', 'a=1; b=2'],
      ['x-forwarded-for', '10.0.0.1'],
    ];
    const input: HeaderList = [
      ['host', 'gw.example'],
      ['authorization', 'Bearer secret'],
      ['expect', '100-continue'],
      ['connection', 'close'],
      ['te', 'trailers'],
      ['transfer-encoding', 'chunked'],
      ['proxy-authorization', 'Basic x'],
      ...kept,
    ];
    expect(requestHeadersForUpstream(input)).toEqual(kept);
  });

  it('drops Authorization in any case', () => {
    expect(requestHeadersForUpstream([['Authorization', 'Bearer x']])).toEqual([]);
  });

  it('joins HTTP/2 cookie crumbs into one header at the first position', () => {
    expect(
      requestHeadersForUpstream([
        ['accept', '*/*'],
        ['cookie', 'a=1'],
        ['x', 'y'],
        ['cookie', 'b=2'],
      ]),
    ).toEqual([
      ['accept', '*/*'],
      ['cookie', 'a=1; b=2'],
      ['x', 'y'],
    ]);
  });
});

describe('responseHeadersForClient', () => {
  it('keeps end-to-end headers, repeats and order; drops hop-by-hop', () => {
    const input: HeaderList = [
      ['content-type', 'text/event-stream'],
      ['set-cookie', 'a=1'],
      ['connection', 'keep-alive, x-internal'],
      ['keep-alive', 'timeout=5'],
      ['x-internal', 'hop'],
      ['transfer-encoding', 'chunked'],
      ['mcp-session-id', 's1'],
      ['www-authenticate', 'Bearer resource_metadata="https://gw/.well-known/oauth-protected-resource"'],
      ['set-cookie', 'b=2'],
      ['content-length', '10'],
      ['proxy-authenticate', 'Basic'],
    ];
    expect(responseHeadersForClient(input)).toEqual([
      ['content-type', 'text/event-stream'],
      ['set-cookie', 'a=1'],
      ['mcp-session-id', 's1'],
      ['www-authenticate', 'Bearer resource_metadata="https://gw/.well-known/oauth-protected-resource"'],
      ['set-cookie', 'b=2'],
      ['content-length', '10'],
    ]);
  });

});

describe('getHeader / getHeaderValues', () => {
  const list: HeaderList = [
    ['set-cookie', 'a=1'],
    ['Mcp-Session-Id', 's1'],
    ['set-cookie', 'b=2'],
  ];
  it('returns the first value, case-insensitively', () => {
    expect(getHeader(list, 'mcp-session-id')).toBe('s1');
    expect(getHeader(list, 'SET-COOKIE')).toBe('a=1');
    expect(getHeader(list, 'missing')).toBeUndefined();
  });
  it('returns every value in order', () => {
    expect(getHeaderValues(list, 'set-cookie')).toEqual(['a=1', 'b=2']);
    expect(getHeaderValues(list, 'missing')).toEqual([]);
  });
});
