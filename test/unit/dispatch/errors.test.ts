import { TunnelError, hasCode } from '../../../src/errors';
import { UPSTREAM_ERROR_CODES, UpstreamError, UpstreamErrorCode, isUpstreamError } from '../../../src/dispatch';

describe('dispatch error registry', () => {
  it('documents every code, each TUNNEL_UPSTREAM_* and unique', () => {
    const codes = Object.values(UpstreamErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    expect(Object.keys(UPSTREAM_ERROR_CODES).sort()).toEqual([...codes].sort());
    for (const code of codes) {
      expect(code).toMatch(/^TUNNEL_UPSTREAM_[A-Z_]+$/);
      expect(UPSTREAM_ERROR_CODES[code].description.length).toBeGreaterThan(20);
    }
  });

  it('contains the codes the proxy relies on, with their retryability', () => {
    expect(UPSTREAM_ERROR_CODES.TUNNEL_UPSTREAM_UNREACHABLE.retryable).toBe(true);
    for (const code of ['TUNNEL_UPSTREAM_TIMEOUT', 'TUNNEL_UPSTREAM_RESET', 'TUNNEL_UPSTREAM_BAD_URL', 'TUNNEL_UPSTREAM_ABORTED'] as const) {
      expect(UPSTREAM_ERROR_CODES[code].retryable).toBe(false);
    }
  });
});

describe('UpstreamError', () => {
  it('is a TunnelError carrying code, retryable default, server, origin, causeCode and cause', () => {
    const cause = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const err = new UpstreamError(UpstreamErrorCode.Unreachable, 'cannot reach', {
      server: 'files',
      origin: 'http://127.0.0.1:1',
      cause,
      causeCode: 'ECONNREFUSED',
    });
    expect(err).toBeInstanceOf(TunnelError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('UpstreamError');
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(err.retryable).toBe(true);
    expect(err.server).toBe('files');
    expect(err.origin).toBe('http://127.0.0.1:1');
    expect(err.causeCode).toBe('ECONNREFUSED');
    expect(err.cause).toBe(cause);
    expect(hasCode(err, 'TUNNEL_UPSTREAM_UNREACHABLE')).toBe(true);
  });

  it('lets a single instance override retryable; causeCode defaults to null', () => {
    const err = new UpstreamError(UpstreamErrorCode.Closed, 'closed', { server: 's', origin: null, retryable: true });
    expect(err.retryable).toBe(true);
    expect(err.causeCode).toBeNull();
  });

  it('isUpstreamError recognises the shape, not the class', () => {
    expect(isUpstreamError({ code: 'TUNNEL_UPSTREAM_RESET', server: 's', origin: null })).toBe(true);
    expect(isUpstreamError({ code: 'TUNNEL_UPSTREAM_RESET' })).toBe(false);
    expect(isUpstreamError({ code: 'ECONNRESET', server: 's' })).toBe(false);
    expect(isUpstreamError(null)).toBe(false);
  });
});
