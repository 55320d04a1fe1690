import { UPSTREAM_ERROR_CODES } from '../../../../src/dispatch/errors';
import { GatewayError } from '../../../../src/gateway/errors';
import { streamFailure } from '../../../../src/gateway/request/respond';
import { ConnectionClosedError, StreamResetError } from '../../../../src/mux';
import { ErrorCode } from '../../../../src/protocol';

describe('streamFailure', () => {
  // The proxy resets the stream with the wire code of its dispatch error (proxy/serve-stream.ts);
  // the gateway error it becomes keeps the dispatch registry's verdict on retrying.
  it.each([
    [ErrorCode.UPSTREAM_UNREACHABLE, 'TUNNEL_UPSTREAM_UNREACHABLE', 'TUNNEL_UPSTREAM_UNREACHABLE', 502],
    [ErrorCode.UPSTREAM_TIMEOUT, 'TUNNEL_UPSTREAM_TIMEOUT', 'TUNNEL_UPSTREAM_TIMEOUT', 504],
    [ErrorCode.UPSTREAM_RESET, 'TUNNEL_UPSTREAM_RESET', 'TUNNEL_UPSTREAM_RESET', 502],
    [ErrorCode.UPSTREAM_FORBIDDEN, 'TUNNEL_UPSTREAM_FORBIDDEN', 'TUNNEL_EGRESS_DENIED', 403],
  ] as const)('retryable lost when an upstream error crosses the tunnel: wire code %i (%s) → %s keeps its retryability', (wire, upstreamCode, gatewayCode, status) => {
    const e = streamFailure(new StreamResetError(wire, 'x'), 'notes');
    const retryable = UPSTREAM_ERROR_CODES[upstreamCode].retryable;
    expect({ code: e.code, status: e.status, retryable: e.retryable, retryAfter: e.retryAfter !== null }).toEqual({ code: gatewayCode, status, retryable, retryAfter: retryable });
  });

  it('a refused stream is retryable with Retry-After: 1; a lost connection (the request may have run) is not', () => {
    expect(streamFailure(new StreamResetError(ErrorCode.REFUSED_STREAM, ''), 's')).toMatchObject({ code: 'TUNNEL_STREAM_REFUSED', status: 503, retryable: true, retryAfter: 1 });
    expect(streamFailure(new ConnectionClosedError(1006, ''), 's')).toMatchObject({ code: 'TUNNEL_CONNECTION_LOST', status: 502, retryable: false, retryAfter: null });
    expect(streamFailure(new Error('boom'), 's')).toMatchObject({ code: 'TUNNEL_INTERNAL', status: 502 });
  });

  it('GatewayError takes status, retryable and Retry-After from the registry', () => {
    expect(new GatewayError('TUNNEL_NOT_CONNECTED', 'm')).toMatchObject({ status: 503, retryable: true, retryAfter: 5 });
    expect(new GatewayError('TUNNEL_RATE_LIMITED', 'm', { retryAfter: 7 })).toMatchObject({ status: 429, retryable: true, retryAfter: 7 });
    expect(new GatewayError('TUNNEL_BODY_TOO_LARGE', 'm', { retryAfter: 7 })).toMatchObject({ status: 413, retryable: false, retryAfter: null });
    expect(new GatewayError('TUNNEL_INTERNAL', 'm')).toMatchObject({ status: 500 });
  });
});
