import { classifyUpstreamError, underlyingCode, type FailureContext } from '../../../src/dispatch/classify';
import { UpstreamError } from '../../../src/dispatch';

const ctx: FailureContext = { server: 'files', origin: 'https://10.1.2.3:8443', aborted: false, phase: 'headers' };

function coded(code: string, message = `boom ${code}`): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyUpstreamError', () => {
  it.each([
    ['ECONNREFUSED', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['ENOTFOUND', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['EAI_AGAIN', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['EHOSTUNREACH', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['ENETUNREACH', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['UND_ERR_CONNECT_TIMEOUT', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['CERT_HAS_EXPIRED', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'TUNNEL_UPSTREAM_UNREACHABLE'],
    ['UND_ERR_HEADERS_TIMEOUT', 'TUNNEL_UPSTREAM_TIMEOUT'],
    ['UND_ERR_BODY_TIMEOUT', 'TUNNEL_UPSTREAM_TIMEOUT'],
    ['UND_ERR_SOCKET', 'TUNNEL_UPSTREAM_RESET'],
    ['ECONNRESET', 'TUNNEL_UPSTREAM_RESET'],
    ['EPIPE', 'TUNNEL_UPSTREAM_RESET'],
    ['ETIMEDOUT', 'TUNNEL_UPSTREAM_RESET'],
    ['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'TUNNEL_UPSTREAM_RESET'],
    ['HPE_INVALID_CONSTANT', 'TUNNEL_UPSTREAM_PROTOCOL'],
    ['UND_ERR_HEADERS_OVERFLOW', 'TUNNEL_UPSTREAM_PROTOCOL'],
    ['UND_ERR_INVALID_ARG', 'TUNNEL_UPSTREAM_BAD_REQUEST'],
    ['UND_ERR_NOT_SUPPORTED', 'TUNNEL_UPSTREAM_BAD_REQUEST'],
    ['UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'TUNNEL_UPSTREAM_BAD_REQUEST'],
    ['UND_ERR_CLOSED', 'TUNNEL_UPSTREAM_CLOSED'],
    ['UND_ERR_DESTROYED', 'TUNNEL_UPSTREAM_CLOSED'],
    ['UND_ERR_ABORTED', 'TUNNEL_UPSTREAM_ABORTED'],
    ['SOMETHING_NEW', 'TUNNEL_UPSTREAM_FAILED'],
  ])('%s -> %s', (code, expected) => {
    const cause = coded(code);
    const err = classifyUpstreamError(cause, ctx);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.code).toBe(expected);
    expect(err.server).toBe('files');
    expect(err.origin).toBe('https://10.1.2.3:8443');
    expect(err.causeCode).toBe(code);
    expect(err.cause).toBe(cause);
    expect(err.message).toContain('https://10.1.2.3:8443');
    expect(err.message).toContain(code);
  });

  it('UNREACHABLE is retryable, the others are not', () => {
    expect(classifyUpstreamError(coded('ECONNREFUSED'), ctx).retryable).toBe(true);
    expect(classifyUpstreamError(coded('UND_ERR_SOCKET'), ctx).retryable).toBe(false);
    expect(classifyUpstreamError(coded('UND_ERR_HEADERS_TIMEOUT'), ctx).retryable).toBe(false);
  });

  it('our own abort wins over whatever undici reported', () => {
    const err = classifyUpstreamError(new DOMException('This operation was aborted', 'AbortError'), { ...ctx, aborted: true });
    expect(err.code).toBe('TUNNEL_UPSTREAM_ABORTED');
    expect(classifyUpstreamError(coded('UND_ERR_SOCKET'), { ...ctx, aborted: true, phase: 'body' }).code).toBe('TUNNEL_UPSTREAM_ABORTED');
  });

  it('the request body stream failing is BAD_REQUEST with the body error code', () => {
    const bodyError = coded('TUNNEL_STREAM_RESET');
    const err = classifyUpstreamError(bodyError, { ...ctx, bodyError });
    expect(err.code).toBe('TUNNEL_UPSTREAM_BAD_REQUEST');
    expect(err.causeCode).toBe('TUNNEL_STREAM_RESET');
  });

  it('a connect failure undici also destroyed the streaming body with is UNREACHABLE, not a body failure', () => {
    // undici's RequestHandler.onError destroys the request body with its own error, so the body emits it too.
    const refused = coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9');
    expect(classifyUpstreamError(refused, { ...ctx, bodyError: refused }).code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    const timeout = coded('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error');
    expect(classifyUpstreamError(timeout, { ...ctx, bodyError: timeout }).code).toBe('TUNNEL_UPSTREAM_TIMEOUT');
  });

  it('a recorded TLS alert turns an undici socket close into UNREACHABLE', () => {
    const tlsFailure = coded('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'tlsv13 alert certificate required');
    const err = classifyUpstreamError(coded('UND_ERR_SOCKET', 'other side closed'), { ...ctx, tlsFailure });
    expect(err.code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(err.causeCode).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect(err.cause).toBe(tlsFailure);
    expect(err.retryable).toBe(true);
  });

  it('returns an UpstreamError unchanged', () => {
    const original = classifyUpstreamError(coded('ECONNRESET'), ctx);
    expect(classifyUpstreamError(original, { ...ctx, aborted: true })).toBe(original);
  });

  it('handles AggregateError (happy eyeballs) and non-errors', () => {
    const agg = new AggregateError([coded('ECONNREFUSED', 'connect ECONNREFUSED ::1:80'), coded('ECONNREFUSED')], '');
    expect(classifyUpstreamError(agg, ctx).code).toBe('TUNNEL_UPSTREAM_UNREACHABLE');
    expect(classifyUpstreamError(agg, ctx).message).toContain('::1');
    expect(classifyUpstreamError('weird', ctx).code).toBe('TUNNEL_UPSTREAM_FAILED');
    expect(classifyUpstreamError(undefined, ctx).code).toBe('TUNNEL_UPSTREAM_FAILED');
  });

  it('underlyingCode reads code, then AggregateError inner code, then AbortError', () => {
    expect(underlyingCode(coded('X'))).toBe('X');
    expect(underlyingCode(new AggregateError([coded('Y')]))).toBe('Y');
    expect(underlyingCode(new DOMException('x', 'AbortError'))).toBe('ABORT_ERR');
    expect(underlyingCode(new Error('plain'))).toBeNull();
    expect(underlyingCode(42)).toBeNull();
  });
});
