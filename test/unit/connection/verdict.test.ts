import { AuthRevokedError, DialError, MAX_RETRY_AFTER_MS, reconnectVerdict } from '../../../src/connection';
import { TunnelError } from '../../../src/errors';
import { ConnectionClosedError } from '../../../src/mux';
import { CloseCode } from '../../../src/protocol';
import { HandshakeError } from '../../../src/session';

describe('reconnectVerdict: one type switch decides permanence, Retry-After and "the gateway is going away"', () => {
  it('a refused upgrade: permanent for 401/403/404, Retry-After honoured and capped', () => {
    const v = reconnectVerdict(new DialError('TUNNEL_TOO_MANY_CONNECTIONS', 'x', { permanent: false, status: 429, retryAfterMs: 3000 }));
    expect(v).toMatchObject({ permanent: false, retryAfterMs: 3000, gatewayGoingAway: false });
    expect(v.error.code).toBe('TUNNEL_TOO_MANY_CONNECTIONS');
    expect(reconnectVerdict(new DialError('TUNNEL_DIAL_REJECTED', 'x', { permanent: false, retryAfterMs: 10 * 60_000 })).retryAfterMs).toBe(MAX_RETRY_AFTER_MS);
    expect(reconnectVerdict(new DialError('TUNNEL_UNKNOWN_TUNNEL', 'x', { permanent: true, status: 404 })).permanent).toBe(true);
  });

  it('a handshake failure carries its permanence; a gateway close 4000 during it is "going away"', () => {
    expect(reconnectVerdict(new HandshakeError('TUNNEL_AUTH_FAILED', 'x', { closeCode: CloseCode.AUTH_FAILED, permanent: true })).permanent).toBe(true);
    const away = reconnectVerdict(new HandshakeError('TUNNEL_HANDSHAKE_CLOSED', 'x', { closeCode: CloseCode.GOING_AWAY, permanent: false }));
    expect(away).toMatchObject({ permanent: false, gatewayGoingAway: true });
  });

  it('a closed connection: permanent for 4401/4404/4426; 4000 is going away only when the gateway closed it', () => {
    expect(reconnectVerdict(new ConnectionClosedError(CloseCode.UNKNOWN_TUNNEL, 'gone', false)).permanent).toBe(true);
    expect(reconnectVerdict(new ConnectionClosedError(CloseCode.GOING_AWAY, 'restart', false))).toMatchObject({ permanent: false, gatewayGoingAway: true });
    expect(reconnectVerdict(new ConnectionClosedError(CloseCode.GOING_AWAY, 'replaced', true)).gatewayGoingAway).toBe(false);
    expect(reconnectVerdict(new ConnectionClosedError(CloseCode.HEARTBEAT_TIMEOUT, 'silent', true)).permanent).toBe(false);
    expect(reconnectVerdict(new AuthRevokedError(CloseCode.AUTH_FAILED, 'revoked')).permanent).toBe(true);
  });

  it('anything else is transient and becomes a TunnelError with a stable code', () => {
    const v = reconnectVerdict(new Error('boom'));
    expect(v.permanent).toBe(false);
    expect(v.error).toBeInstanceOf(TunnelError);
    expect(v.error.code).toBe('TUNNEL_ERROR');
    // No duck typing: a plain object claiming to be permanent is not believed.
    expect(reconnectVerdict({ permanent: true, closeCode: CloseCode.AUTH_FAILED }).permanent).toBe(false);
  });
});
