import { parseUpstreamUrl } from '../../../src/dispatch/target';
import type { UpstreamError } from '../../../src/dispatch';

function badUrl(url: string): UpstreamError {
  try {
    parseUpstreamUrl(url, 'files');
  } catch (err) {
    return err as UpstreamError;
  }
  throw new Error('expected BAD_URL');
}

describe('parseUpstreamUrl', () => {
  it.each([
    ['http://mcp.internal:8080/mcp', 'http://mcp.internal:8080', '/mcp'],
    ['https://mcp.internal/mcp?x=1', 'https://mcp.internal', '/mcp?x=1'],
    ['https://mcp.internal:443/a', 'https://mcp.internal', '/a'],
    ['http://mcp.internal:8080', 'http://mcp.internal:8080', '/'],
    ['http://mcp.internal?x=1', 'http://mcp.internal', '/?x=1'],
    ['http://127.0.0.1:1/mcp#frag', 'http://127.0.0.1:1', '/mcp'],
    ['HTTP://Mcp.Internal/Path', 'http://mcp.internal', '/Path'],
    ['http://[::1]:8080/mcp', 'http://[::1]:8080', '/mcp'],
  ])('%s -> origin %s, path %s', (url, origin, path) => {
    expect(parseUpstreamUrl(url, 'files')).toEqual({ origin, path });
  });

  it('keeps path and query verbatim (no dot-segment or percent normalisation)', () => {
    expect(parseUpstreamUrl('http://h/mcp/../x/%2F/./y?a=%20&b=&&c=%zz', 's').path).toBe('/mcp/../x/%2F/./y?a=%20&b=&&c=%zz');
    expect(parseUpstreamUrl('http://h/messages?sessionId=abc-123', 's').path).toBe('/messages?sessionId=abc-123');
  });

  it('falls back to the normalised form for characters that cannot be sent raw', () => {
    expect(parseUpstreamUrl('http://h/a b?q=\u2603', 's').path).toBe('/a%20b?q=%E2%98%83');
  });

  it.each(['ftp://h/x', 'ws://h/x', 'file:///etc/passwd', 'not a url', '/relative', ''])('rejects %j', (url) => {
    const err = badUrl(url);
    expect(err.code).toBe('TUNNEL_UPSTREAM_BAD_URL');
    expect(err.server).toBe('files');
    expect(err.retryable).toBe(false);
  });

  it('rejects credentials in the URL without echoing them', () => {
    const err = badUrl('http://user:hunter2@h/x');
    expect(err.code).toBe('TUNNEL_UPSTREAM_BAD_URL');
    expect(err.origin).toBe('http://h');
    expect(err.message).not.toContain('hunter2');
  });

  it('does not let a backslash authority trick change the origin', () => {
    // WHATWG parses the host as 127.0.0.1; the path is taken from the parsed URL, not the raw text.
    const t = parseUpstreamUrl('http://127.0.0.1:1\\@evil.example/x', 's');
    expect(t.origin).toBe('http://127.0.0.1:1');
    expect(t.path.startsWith('/')).toBe(true);
  });
});
