import { reconnectVerdict } from '../../../src/connection';
import { firstValueFrom } from 'rxjs';
import { createLinkedTransportPair } from '../../../src/mux';
import type { PeerSettings } from '../../../src/protocol';
import { acceptHandshake, authenticate, proxyChannelBinding } from '../../../src/session';
import { LogCapture } from '../../helpers/tunnel-harness';

const settings: PeerSettings = { maxFrameSize: 65536, streamWindow: 262144, connectionWindow: 16777216, maxStreams: 16, maxHeaderBytes: 65536 };
const SECRET = 'channel-binding-test-secret-0123456789ab';

describe('proxyChannelBinding', () => {
  it.each([
    [undefined, null, false, { ok: true, channelBinding: '' }],
    ['none', null, false, { ok: true, channelBinding: '' }],
    ['none', 'cb', false, { ok: true, channelBinding: '' }],
    ['none', null, true, { ok: true, channelBinding: '' }],
    ['tls-exporter', 'cb', false, { ok: true, channelBinding: 'cb' }],
    ['tls-exporter', 'cb', true, { ok: true, channelBinding: 'cb' }],
  ])('hello.binding %j, exporter %j, require %j → %j', (announced, exporter, require, expected) => {
    expect(proxyChannelBinding(announced, exporter, require)).toEqual(expected);
  });

  it.each([
    ['tls-exporter', null, false, 'TUNNEL_CHANNEL_BINDING_UNAVAILABLE'],
    [undefined, 'cb', true, 'TUNNEL_CHANNEL_BINDING_REQUIRED'],
    ['none', 'cb', true, 'TUNNEL_CHANNEL_BINDING_REQUIRED'],
    ['tls-unique', 'cb', false, 'TUNNEL_CHANNEL_BINDING_UNSUPPORTED'],
  ])('hello.binding %j, exporter %j, require %j → refuses with %s', (announced, exporter, require, code) => {
    expect(proxyChannelBinding(announced, exporter, require)).toMatchObject({ ok: false, code });
  });
});

describe('handshake with channel binding (in-memory transports)', () => {
  function run(gatewayCb: string, proxyCb: string | null, proxySecret = SECRET) {
    const [gw, px] = createLinkedTransportPair();
    const logs = new LogCapture();
    const accepted = firstValueFrom(
      acceptHandshake(gw, { tunnelId: 'corp', secrets: () => [SECRET], local: settings, timeoutMs: 2000, binding: 'tls-exporter', channelBinding: gatewayCb, logger: logs.logger }),
    );
    const authenticated = firstValueFrom(
      authenticate(px, { tunnelId: 'corp', secret: () => proxySecret, local: settings, timeoutMs: 2000, tlsExporter: proxyCb, proxy: { id: 'p', name: 'p', software: 't' } }),
    );
    return { accepted, authenticated, logs };
  }

  it('succeeds when both sides see the same exporter value, and both report the value bound', async () => {
    const { accepted, authenticated } = run('same-session', 'same-session');
    await expect(accepted).resolves.toMatchObject({ channelBinding: 'same-session' });
    await expect(authenticated).resolves.toMatchObject({ channelBinding: 'same-session' });
  });

  it('fails with 4401 when the exporter values differ (two TLS sessions: a relay)', async () => {
    const { accepted, authenticated, logs } = run('gateway-session', 'relay-session');
    await expect(accepted).rejects.toMatchObject({ code: 'TUNNEL_AUTH_FAILED', closeCode: 4401, permanent: true });
    // Not a wrong secret: the gateway's close names its session, which is not the proxy's.
    await expect(authenticated).rejects.toMatchObject({ code: 'TUNNEL_CHANNEL_BINDING_MISMATCH', permanent: true });
    expect(logs.find((l) => l.code === 'TUNNEL_AUTH_FAILED')?.reason).toContain('bound to another TLS session');
  });

  it('a wrong secret on the same TLS session is reported as a wrong secret, with its hint', async () => {
    const { accepted, authenticated } = run('same', 'same', 'x'.repeat(40));
    await expect(accepted).rejects.toMatchObject({ code: 'TUNNEL_AUTH_FAILED' });
    const err = await authenticated.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TUNNEL_AUTH_FAILED', permanent: true });
    expect(String((err as Error).message)).toContain('wrong secret');
    expect(reconnectVerdict(err).hint).toMatch(/^wrong secret: .*MCP_TUNNEL_SECRET_FILE/);
  });

  it('a proof that matches unbound (a proxy older than channel binding) says so', async () => {
    // An empty exporter value makes an unbound proof, as a proxy older than channel binding sends.
    const { accepted, authenticated, logs } = run('gw', '');
    await expect(accepted).rejects.toMatchObject({ code: 'TUNNEL_AUTH_FAILED' });
    expect(logs.find((l) => l.code === 'TUNNEL_AUTH_FAILED')?.reason).toContain('right secret, but the proof is not bound to this TLS session');
    const verdict = reconnectVerdict(await authenticated.catch((e: unknown) => e));
    expect(verdict.error.code).toBe('TUNNEL_AUTH_FAILED');
    expect(verdict.hint).toContain('upgrade the proxy');
  });

  it('the proxy refuses at once when its connection is not TLS but the gateway binds', async () => {
    const { accepted, authenticated } = run('gateway-session', null);
    await expect(authenticated).rejects.toMatchObject({ code: 'TUNNEL_CHANNEL_BINDING_UNAVAILABLE', permanent: true });
    await expect(accepted).rejects.toMatchObject({ code: 'TUNNEL_HANDSHAKE_CLOSED' });
  });
});
