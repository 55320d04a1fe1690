import { firstValueFrom } from 'rxjs';
import { createLinkedTransportPair, type FrameTransport } from '../../../src/mux';
import type { PeerSettings } from '../../../src/protocol';
import { acceptHandshake, authenticate, computeProof, matchProof } from '../../../src/session';
import { LogCapture } from '../../helpers/tunnel-harness';

const settings: PeerSettings = { maxFrameSize: 65536, streamWindow: 262144, connectionWindow: 16777216, maxStreams: 16, maxHeaderBytes: 65536 };
const OLD = 'handshake-test-secret-old-0123456789abcdef';
const NEW = 'handshake-test-secret-new-0123456789abcdef';
const proxyInfo = { id: 'p1', name: 'proxy', software: 'test' };

interface RunOptions {
  gatewayVersions?: number[];
  proxyVersions?: number[];
  secrets?: string[];
  secret?: string;
  timeoutMs?: number;
  /** Replace the proxy by a peer that never answers. */
  silentProxy?: boolean;
}

function run(o: RunOptions = {}) {
  const [gw, px]: [FrameTransport, FrameTransport] = createLinkedTransportPair();
  const logs = new LogCapture();
  const accepted = firstValueFrom(
    acceptHandshake(gw, {
      tunnelId: 'corp',
      secrets: () => o.secrets ?? [OLD],
      local: settings,
      timeoutMs: o.timeoutMs ?? 2000,
      channelBinding: '',
      logger: logs.logger,
      ...(o.gatewayVersions ? { versions: o.gatewayVersions } : {}),
    }),
  );
  const closes: Array<{ code: number; reason: string }> = [];
  if (o.silentProxy) {
    px.setHandler({ onMessage: () => undefined, onClose: (code, reason) => closes.push({ code, reason }) });
    return { accepted, authenticated: null, logs, closes };
  }
  const authenticated = firstValueFrom(
    authenticate(px, {
      tunnelId: 'corp',
      secret: () => o.secret ?? OLD,
      local: settings,
      timeoutMs: 2000,
      tlsExporter: null,
      proxy: proxyInfo,
      ...(o.proxyVersions ? { versions: o.proxyVersions } : {}),
    }),
  );
  return { accepted, authenticated, logs, closes };
}

describe('handshake', () => {
  it('authenticates with the shared secret and agrees on settings', async () => {
    const { accepted, authenticated } = run();
    const [a, b] = await Promise.all([accepted, authenticated]);
    expect(a.version).toBe(1);
    expect(b!.version).toBe(1);
    expect(b!.connectionId).toBe(a.connectionId);
    expect(a.remote).toEqual(settings);
    expect(a.proxy).toEqual(proxyInfo);
  });

  it('an old proxy (v1 only) keeps working with a newer gateway offering [2, 1]', async () => {
    const { accepted, authenticated } = run({ gatewayVersions: [2, 1], proxyVersions: [1] });
    const [a, b] = await Promise.all([accepted, authenticated]);
    expect(a.version).toBe(1);
    expect(b!.version).toBe(1);
  });

  it('a newer proxy picks the highest common version', async () => {
    const { accepted, authenticated } = run({ gatewayVersions: [1, 2], proxyVersions: [3, 2, 1] });
    const [a, b] = await Promise.all([accepted, authenticated]);
    expect(a.version).toBe(2);
    expect(b!.version).toBe(2);
  });

  it('no common version: the proxy closes with 4426 and a permanent TUNNEL_UNSUPPORTED_VERSION', async () => {
    const { accepted, authenticated } = run({ gatewayVersions: [2], proxyVersions: [1] });
    await Promise.all([
      expect(authenticated).rejects.toMatchObject({ code: 'TUNNEL_UNSUPPORTED_VERSION', permanent: true, closeCode: 4426 }),
      expect(accepted).rejects.toMatchObject({ closeCode: 4426 }),
    ]);
  });

  it('a wrong secret is refused with 4401, permanent on the proxy, logged at the gateway', async () => {
    const { accepted, authenticated, logs } = run({ secret: NEW });
    await Promise.all([
      expect(authenticated).rejects.toMatchObject({ code: 'TUNNEL_AUTH_FAILED', permanent: true, closeCode: 4401 }),
      expect(accepted).rejects.toMatchObject({ code: 'TUNNEL_AUTH_FAILED' }),
    ]);
    expect(logs.find((l) => l['msg'] === 'tunnel handshake failed' && l['code'] === 'TUNNEL_AUTH_FAILED')).toBeDefined();
    // The secret never crossed the wire, and is not in any log line.
    expect(logs.raw.join('\n')).not.toContain(NEW);
    expect(logs.raw.join('\n')).not.toContain(OLD);
  });

  it('any listed secret of the tunnel is accepted (rotation), and the index is reported', async () => {
    const { accepted, authenticated } = run({ secrets: [NEW, OLD], secret: OLD });
    const [a] = await Promise.all([accepted, authenticated]);
    expect(a.secretIndex).toBe(1);
  });

  it('an unauthenticated connection is closed after the handshake timeout (4408)', async () => {
    const { accepted, closes } = run({ silentProxy: true, timeoutMs: 50 });
    await expect(accepted).rejects.toMatchObject({ code: 'TUNNEL_HANDSHAKE_TIMEOUT', closeCode: 4408 });
    await new Promise((r) => setImmediate(r));
    expect(closes[0]?.code).toBe(4408);
  });
});

describe('proof', () => {
  const input = { version: 1, tunnel: 'corp', nonce: 'bm9uY2U', channelBinding: '' };
  it('depends on every input', () => {
    const base = computeProof(OLD, input);
    expect(computeProof(OLD, { ...input, version: 2 })).not.toBe(base);
    expect(computeProof(OLD, { ...input, tunnel: 'other' })).not.toBe(base);
    expect(computeProof(OLD, { ...input, nonce: 'b3RoZXI' })).not.toBe(base);
    expect(computeProof(OLD, { ...input, channelBinding: 'Y2I' })).not.toBe(base);
    expect(computeProof(NEW, input)).not.toBe(base);
  });
  it('matchProof finds the secret, rejects a wrong or malformed proof', () => {
    expect(matchProof([NEW, OLD], computeProof(OLD, input), input)).toBe(1);
    expect(matchProof([NEW], computeProof(OLD, input), input)).toBe(-1);
    expect(matchProof([OLD], 'not-base64-!!', input)).toBe(-1);
    expect(matchProof([OLD], '', input)).toBe(-1);
  });
});
