import { openChange, sealChange, sharedPart, withShared } from '../../../src/cluster/shared-config';
import type { GatewayConfig } from '../../../src/config/types';

const SECRET = 'cluster-secret-0123456789abcdefghijk';

function config(): GatewayConfig {
  return {
    listen: { host: '127.0.0.1', port: 8080 },
    tls: null,
    tunnels: [{ id: 'corp', secrets: ['tunnel-secret-0123456789abcdefghijkl'] }],
    servers: [],
    clients: [],
    limits: { maxRequestBodyBytes: 1, connectWaitMs: 1, handshakeTimeoutMs: 1, maxStreamsPerConnection: 1, maxHeaderBytes: 1, maxUnauthenticatedPerAddress: 1, maxUnauthenticated: 1, connectAttemptsPerMinute: 1 },
    flow: { streamWindow: 1, connectionWindow: 1, maxFrameSize: 1 },
    heartbeat: { intervalMs: 1 },
    rotation: { graceMs: 1 },
    log: { level: 'info' },
    audit: { destination: 'stdout', sync: true, hmacKeyFile: null, signingKeyFile: null, checkpoint: { every: 1, intervalMs: 1 } },
    cluster: { redis: 'redis://x:1', advertise: 'http://a:1', listen: '127.0.0.1:1', secretFile: '/s' },
  };
}

describe('shared configuration changes', () => {
  it('seal without showing the tunnel secret and open only with the same cluster secret', () => {
    const change = { from: 'r1', at: 5, shared: sharedPart(config()) };
    const sealed = sealChange(change, SECRET);
    expect(sealed).not.toContain('tunnel-secret');
    expect(Buffer.from(sealed, 'base64url').toString('latin1')).not.toContain('tunnel-secret');
    expect(openChange(sealed, SECRET)).toEqual(change);
    expect(openChange(sealed, `${SECRET}x`)).toBeNull();
    const tampered = Buffer.from(sealed, 'base64url');
    tampered[tampered.length - 1]! ^= 1;
    expect(openChange(tampered.toString('base64url'), SECRET)).toBeNull();
  });

  it('carry the shared keys only: listen, cluster and audit stay the replica’s own', () => {
    const mine = config();
    const theirs = { ...config(), listen: { host: '10.0.0.1', port: 1 }, tunnels: [{ id: 'other', secrets: ['s'] }] };
    const merged = withShared(mine, sharedPart(theirs));
    expect(merged.tunnels).toEqual([{ id: 'other', secrets: ['s'] }]);
    expect(merged.listen).toEqual(mine.listen);
    expect(merged.cluster).toEqual(mine.cluster);
    expect(sharedPart(theirs)).not.toHaveProperty('listen');
  });
});
