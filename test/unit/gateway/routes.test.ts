import { isBasePath, resolveEndpoint, route, upstreamUrl } from '../../../src/gateway/routes';
import { canonicalName, findNamed, readingsOfName } from '../../../src/gateway/query';
import { LegacyEndpoints, announcedSessionId } from '../../../src/gateway/legacy-endpoints';

const ROUTERS = new Set(['sessionid', 'session_id']);

describe('route', () => {
  it('splits /mcp/{server}[/rest][?query]', () => {
    expect(route('/mcp/notes')).toEqual({ kind: 'mcp', server: 'notes', rest: '', search: '' });
    expect(route('/mcp/notes/?a=1')).toEqual({ kind: 'mcp', server: 'notes', rest: '/', search: '?a=1' });
    expect(route('/mcp/notes/admin-mcp')).toEqual({ kind: 'mcp', server: 'notes', rest: '/admin-mcp', search: '' });
    expect(isBasePath('')).toBe(true);
    expect(isBasePath('/')).toBe(true);
    expect(isBasePath('/x')).toBe(false);
  });
});

describe('upstreamUrl (issue 8 defect 2: the configured URL always applies)', () => {
  it('is the configured URL as written, path and query, when the client sends no query', () => {
    expect(upstreamUrl('http://h:1/mcp', '')).toBe('http://h:1/mcp');
    expect(upstreamUrl('http://h:1/mcp?tenant=a', '')).toBe('http://h:1/mcp?tenant=a');
    expect(upstreamUrl('http://h:1/mcp?tenant=a', '?')).toBe('http://h:1/mcp?tenant=a');
    expect(upstreamUrl('http://h:1/a/./b%7E?x=1#frag', '')).toBe('http://h:1/a/./b%7E?x=1');
  });

  it('appends the client query byte for byte instead of replacing the configured one', () => {
    expect(upstreamUrl('http://h/mcp', '?a=1&a=2&sp=%20')).toBe('http://h/mcp?a=1&a=2&sp=%20');
    expect(upstreamUrl('http://h/mcp?tenant=a', '?x=1')).toBe('http://h/mcp?tenant=a&x=1');
  });

  it.each([
    'tenant=b',
    'x=1&tenant=b',
    'tenant[]=b',
    'tenant[0]=b',
    'tenant[x]=b',
    '[tenant]=b',
    'tenant%5B0%5D=b',
    '%74enant=b',
    'TENANT=b',
    'x=1;tenant=b',
    'tenant',
  ])('refuses a client parameter that a parser reads as a configured one: %s', (q) => {
    expect(upstreamUrl('http://h/mcp?tenant=a', `?${q}`)).toEqual({ conflict: 'tenant' });
  });

  it('compares a configured name as a server reads it too (configured "a+b" is "a b")', () => {
    expect(upstreamUrl('http://h/mcp?a+b=1', '?a%20b=2')).toEqual({ conflict: 'a b' });
    expect(upstreamUrl('http://h/mcp?a+b=1', '?ab=2')).toBe('http://h/mcp?a+b=1&ab=2');
  });
});

describe('query name readings', () => {
  it.each([
    ['sessionId', true],
    ['sessionId[0]', true],
    ['sessionId[]', true],
    ['sessionId[x]', true],
    ['sessionId%5B0%5D', true],
    ['%73essionId', true],
    ['[sessionId]', true],
    ['SESSIONID', true],
    ['session_id', true],
    ['session%5Fid', true],
    ['sessionIdx', false],
    ['xsessionId', false],
    ['session+Id', false],
  ])('%s names a session router: %s', (name, expected) => {
    expect(findNamed(`?${name}=v`, ROUTERS) !== null).toBe(expected);
  });

  it('matches every reading qs (express "extended") gives a name', () => {
    // qs parent keys, from `qs.parse` (6.x) of `<name>=v`: the reading the upstream routes on.
    const cases: Array<[string, string]> = [
      ['sessionId[=x]', 'sessionId'],
      ['sessionId[', 'sessionId'],
      ['[sessionId]', 'sessionId'],
      ['%73essionId', 'sessionId'],
      ['%73essionId%ZZ', '%73essionId%ZZ'],
    ];
    for (const [raw, qsName] of cases) expect(readingsOfName(raw).has(qsName.toLowerCase())).toBe(true);
    expect(canonicalName('sessionId%5B%5D')).toBe('sessionid');
  });
});

describe('resolveEndpoint', () => {
  it('resolves a relative endpoint against the configured URL and names the gateway path for it', () => {
    expect(resolveEndpoint('/messages?sessionId=abc', 'http://h:1/sse', 'legacy')).toEqual({
      upstream: 'http://h:1/messages?sessionId=abc',
      gatewayPath: '/mcp/legacy/messages?sessionId=abc',
      rest: '/messages',
      search: '?sessionId=abc',
    });
    expect(resolveEndpoint('messages/?session_id=1', 'http://h/a/sse', 'py')?.upstream).toBe('http://h/a/messages/?session_id=1');
  });

  it('refuses another origin and what is no URL', () => {
    expect(resolveEndpoint('http://evil:1/messages?sessionId=1', 'http://h:1/sse', 'x')).toBeNull();
    expect(resolveEndpoint('//evil/messages', 'http://h:1/sse', 'x')).toBeNull();
    expect(resolveEndpoint('http://[', 'http://h:1/sse', 'x')).toBeNull();
  });
});

describe('LegacyEndpoints', () => {
  const a = { server: 's', rest: '/messages', search: '?sessionId=1', upstream: 'http://h/messages?sessionId=1', sessionId: '1', owner: 'apiKey:alice', connId: 'c1' };

  it('finds an endpoint only by its exact path and query, until it is removed', () => {
    const reg = new LegacyEndpoints();
    const remove = reg.add(a)!;
    expect(reg.lookup('s', '/messages', '?sessionId=1')).toMatchObject({ owner: 'apiKey:alice', sessionId: '1' });
    expect(reg.lookup('s', '/messages', '?sessionId=1&x=1')).toBeNull();
    expect(reg.lookup('s', '/messages', '?sessionId[0]=1')).toBeNull();
    expect(reg.lookup('t', '/messages', '?sessionId=1')).toBeNull();
    remove();
    remove();
    expect(reg.lookup('s', '/messages', '?sessionId=1')).toBeNull();
    expect(reg.size).toBe(0);
  });

  it('is bounded per server and never shares a live endpoint', () => {
    const reg = new LegacyEndpoints(2);
    expect(reg.add(a)).not.toBeNull();
    expect(reg.add(a)).toBeNull();
    expect(reg.add({ ...a, search: '?sessionId=2' })).not.toBeNull();
    expect(reg.add({ ...a, search: '?sessionId=3' })).toBeNull();
    expect(reg.add({ ...a, server: 'other', search: '?sessionId=3' })).not.toBeNull();
  });

  it('learns the parameter names a server routes on', () => {
    const reg = new LegacyEndpoints();
    expect([...reg.routersOf('s')].sort()).toEqual(['session_id', 'sessionid']);
    reg.add({ ...a, search: '?sid=1&v=2' });
    expect([...reg.routersOf('s')].sort()).toEqual(['session_id', 'sessionid', 'sid', 'v']);
    expect([...reg.routersOf('other')].sort()).toEqual(['session_id', 'sessionid']);
  });

  it('names the session an announced query routes on', () => {
    expect(announcedSessionId('/messages', '?sessionId=abc')).toBe('abc');
    expect(announcedSessionId('/messages/', '?session_id=py')).toBe('py');
    expect(announcedSessionId('/m', '?sid=1')).toBe('/m?sid=1');
  });
});
