import { dialFailure, upgradeRefusalHint } from '../../../src/connection/hints';

/** Socket/TLS errors as Node raises them: a message and a `code`. */
function sysError(code: string, message = code): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

const wss = { url: 'wss://gw.example:8443/tunnel/corp', timeoutMs: 10_000 };

describe('dialFailure: code and hint from the raw error', () => {
  it.each([
    ['SELF_SIGNED_CERT_IN_CHAIN', 'TUNNEL_TLS_VERIFY_FAILED', /MCP_TUNNEL_CA_FILE/],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'TUNNEL_TLS_VERIFY_FAILED', /MCP_TUNNEL_CA_FILE/],
    ['CERT_HAS_EXPIRED', 'TUNNEL_TLS_VERIFY_FAILED', /expired/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'TUNNEL_TLS_VERIFY_FAILED', /does not name the host/],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'TUNNEL_DIAL_NOT_TLS', /gw\.example:8443 answered without TLS/],
    ['ECONNREFUSED', 'TUNNEL_DIAL_FAILED', /nothing listens at gw\.example:8443/],
    ['ENOTFOUND', 'TUNNEL_DIAL_FAILED', /does not resolve/],
  ])('%s → %s', (raw, code, hint) => {
    const err = dialFailure(sysError(raw), wss);
    expect(err).toMatchObject({ code, permanent: false });
    expect(err.hint).toMatch(hint);
    expect(err.message).toContain(raw);
  });

  it("ws's open timeout becomes TUNNEL_DIAL_TIMEOUT naming the configured wait", () => {
    const err = dialFailure(new Error('Opening handshake has timed out'), { ...wss, timeoutMs: 1234 });
    expect(err.code).toBe('TUNNEL_DIAL_TIMEOUT');
    expect(err.message).toBe('the gateway at gw.example:8443 did not complete TCP, TLS and the WebSocket upgrade within 1234 ms');
    expect(err.hint).toContain('MCP_TUNNEL_HANDSHAKE_TIMEOUT_MS');
  });

  it('a cut connection suggests wss:// only for a ws:// URL; unknown errors get no hint', () => {
    expect(dialFailure(sysError('ECONNRESET', 'socket hang up'), { url: 'ws://gw.example/tunnel/corp', timeoutMs: 1 }).hint).toMatch(/use wss:\/\//);
    expect(dialFailure(sysError('ECONNRESET', 'socket hang up'), wss).hint).toBeNull();
    expect(dialFailure(sysError('EWHATEVER'), wss)).toMatchObject({ code: 'TUNNEL_DIAL_FAILED', hint: null });
  });

  it('HTTP answers to the upgrade get a hint each', () => {
    expect(upgradeRefusalHint(404)).toMatch(/tunnels\[\]\.id/);
    expect(upgradeRefusalHint(429)).toMatch(/limits connections/);
    expect(upgradeRefusalHint(502)).toMatch(/WebSocket/);
  });
});
