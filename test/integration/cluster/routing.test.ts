/**
 * Three gateway replicas sharing one Redis: a proxy connected to one replica serves clients of
 * every replica (the others reach it through the internal hop), through a round-robin balancer too.
 */
import type { StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { Resources, connectClient, waitFor } from '../../helpers';
import type { Harness } from '../../helpers/tunnel-harness';
import type { RunningGateway } from '../../../src/gateway';
import { redisAvailable, startBalancer, startCluster } from './cluster-harness';

const run = redisAvailable() ? describe : describe.skip;

run('cluster: routing through the internal hop', () => {
  const res = new Resources();
  let h: Harness;
  let upstream: StreamableUpstreamHandle;
  let replicas: RunningGateway[];

  beforeEach(async () => {
    ({ h, upstream, replicas } = await startCluster(res));
    // Every replica has a hop to the proxy's connection (held by replica 0).
    await waitFor(() => replicas.every((g) => g.clusterSnapshot()?.hops === (g === h.gateway ? 0 : 1)), { message: 'hops open' });
  });

  afterEach(() => res.closeAll());

  it('serves a client of every replica, and names the hop in the audit record', async () => {
    for (const g of replicas) {
      const { client } = res.add(await connectClient(`${g.url}/mcp/notes`, { headers: { authorization: `Bearer ${h.apiKey}` } }));
      const out = await client.callTool({ name: 'echo', arguments: { text: `via ${g.port}` } });
      expect(out.content).toEqual([{ type: 'text', text: `via ${g.port}` }]);
    }
    const held = h.gateway.registry.all()[0]!.id;
    const id0 = h.gateway.clusterSnapshot()!.replicaId;
    const records = h.gatewayAudit.lines.filter((l) => l.side === 'gateway' && l.status === 200);
    // Requests of replicas 1 and 2 went through the hop to replica 0's connection.
    expect(records.some((l) => l.conn === held)).toBe(true);
    expect(records.some((l) => l.conn === `${held}@${id0}`)).toBe(true);
  });

  it('keeps an MCP session on its connection when the balancer sends each request elsewhere', async () => {
    const lb = res.add(await startBalancer(() => replicas.map((g) => g.port)));
    // The SDK opens a new TCP connection per request often enough; force it with connection: close.
    const { client } = res.add(await connectClient(`${lb.url}/mcp/notes`, { headers: { authorization: `Bearer ${h.apiKey}`, connection: 'close' } }));
    for (let i = 0; i < 6; i++) {
      const out = await client.callTool({ name: 'echo', arguments: { text: `n${i}` } });
      expect(out.content).toEqual([{ type: 'text', text: `n${i}` }]);
    }
    // Requests landed on more than one replica, and all reached the one upstream session.
    const ports = new Set(h.gatewayAudit.lines.filter((l) => l.side === 'gateway').map((l) => String(l.conn)));
    expect(ports.size).toBeGreaterThan(1);
    expect(upstream.sessions.size).toBe(1);
  });

  it('answers 503 TUNNEL_NOT_CONNECTED on every replica once the only proxy is gone', async () => {
    await h.proxy!.close(0);
    await waitFor(() => replicas.every((g) => g.clusterSnapshot()!.hops === 0), { message: 'hops closed' });
    const r = await fetch(`${replicas[2]!.url}/mcp/notes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { data: { code: string } } }).error.data.code).toBe('TUNNEL_NOT_CONNECTED');
  });
});
