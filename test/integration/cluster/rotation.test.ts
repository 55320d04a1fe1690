/**
 * A configuration change applied on one replica reaches every replica: a tunnel secret revoked on
 * replica 2 drains the proxy connection replica 0 holds (its own SecretRotation), and a proxy with
 * the new secret is accepted by replica 1, which never saw the reload itself.
 */
import { randomBytes } from 'node:crypto';
import { Resources, waitFor } from '../../helpers';
import type { Harness } from '../../helpers/tunnel-harness';
import type { RunningGateway } from '../../../src/gateway';
import { redisAvailable, startCluster } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;

run('cluster: configuration changes reach every replica', () => {
  const res = new Resources();
  let h: Harness;
  let replicas: RunningGateway[];

  beforeEach(async () => {
    ({ h, replicas } = await startCluster(res, { gateway: (c) => void (c.rotation = { graceMs: 300 }) }));
  });

  afterEach(() => res.closeAll());

  it('revokes a secret everywhere when one replica reloads', async () => {
    expect(h.gateway.registry.all()).toHaveLength(1);
    const next = structuredClone(h.gatewayConfig);
    const fresh = randomBytes(32).toString('base64url');
    next.tunnels = [{ id: 'corp', secrets: [fresh] }];
    // Applied on replica 2 only (a reload leaves its cluster listener as it is).
    replicas[2]!.reload(next);
    // Replica 0 holds the proxy's connection: it challenges it, the proxy has only the old secret, so it is drained.
    await waitFor(() => h.gateway.registry.all().length === 0, { timeoutMs: 10_000, message: 'revoked connection drained on replica 0' });
    expect(h.logs.find((l) => l.msg === 'cluster: applying a configuration change from another replica')).toBeDefined();
    // Replica 1 accepts a proxy with the new secret.
    const p = await h.addProxy((c) => {
      c.secret = fresh;
      c.url = `${replicas[1]!.url.replace(/^http/, 'ws')}/tunnel/corp`;
    });
    expect(p).toBeDefined();
    await waitFor(() => replicas[1]!.registry.all().length === 1, { message: 'new proxy on replica 1' });
  });
});
