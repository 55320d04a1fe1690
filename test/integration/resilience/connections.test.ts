import * as fs from 'node:fs';
import * as path from 'node:path';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { waitFor } from '../../helpers/wait-for';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { newSecret, recordStatus, replaceFile, tempDir } from '../rotation/helpers';

describe('several tunnel connections per proxy', () => {
  let upstream: StreamableUpstreamHandle;
  let h: Harness;
  let tmp: ReturnType<typeof tempDir>;
  const cleanups: Array<() => void> = [];

  beforeEach(async () => {
    tmp = tempDir();
    upstream = await startStreamableUpstream();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0)) c();
    await h.close();
    await upstream.close();
    tmp.cleanup();
  });

  async function echo(): Promise<unknown> {
    const res = await fetch(h.mcpUrl('echo'), { method: 'POST', headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json' }, body: '{}' });
    await res.arrayBuffer();
    return res.status;
  }

  it('keeps `connections` connections, each reconnecting on its own; requests spread; a new secret re-authenticates every one', async () => {
    const secretFile = path.join(tmp.dir, 'secret');
    h = await startHarness({
      servers: [{ name: 'echo', url: `${upstream.origin}/raw/echo-headers` }],
      gateway: (c) => {
        c.rotation.graceMs = 5000;
      },
      proxy: (c) => {
        c.connections = 3;
        fs.writeFileSync(secretFile, `${c.secret}\n`, { mode: 0o600 });
        c.secretFile = secretFile;
      },
    });
    const status = recordStatus(h.proxy!);
    cleanups.push(() => status.sub.unsubscribe());
    // `ready` resolved with the first; the others follow.
    const conns = await waitFor(() => {
      const c = h.gateway.registry.connections('corp');
      return c.length === 3 ? c : null;
    }, { message: 'three connections' });
    await waitFor(() => status.states.some((s) => s.state === 'connected' && s.connections === 3));

    // Concurrent requests spread over the connections (fewest in flight first).
    const statuses = await Promise.all(Array.from({ length: 30 }, () => echo()));
    expect(statuses.every((s) => s === 200)).toBe(true);
    const used = new Set(h.gatewayAudit.lines.filter((l) => l.path === '/mcp/echo').map((l) => l.conn));
    expect(used.size).toBeGreaterThan(1);

    // One connection dies: only that one reconnects, the others are untouched.
    const [victim, ...others] = conns;
    victim!.mux.close(4000, 'test: cut one connection');
    await waitFor(() => {
      const now = h.gateway.registry.connections('corp');
      return now.length === 3 && !now.some((c) => c.id === victim!.id) ? now : null;
    }, { message: 'the cut connection to be replaced' });
    for (const o of others) expect(o.mux.isClosed).toBe(false);
    expect(status.states.every((s) => s.state === 'connected')).toBe(true);

    // Rotation: every live connection re-authenticates in-band with the new secret, none is dropped.
    const before = h.gateway.registry.connections('corp').map((c) => c.id).sort();
    const next = newSecret();
    h.gateway.reload({ ...h.gatewayConfig, tunnels: [{ id: 'corp', secrets: [next, h.secret] }] });
    replaceFile(secretFile, `${next}\n`);
    await waitFor(() => h.logs.lines.filter((l) => l.msg === 'proxy re-authenticated in-band').length >= 3, { message: 'three in-band re-authentications' });
    const reauthed = new Set(h.logs.lines.filter((l) => l.msg === 'proxy re-authenticated in-band').map((l) => l.conn));
    expect([...reauthed].sort()).toEqual(before);
    h.gateway.reload({ ...h.gatewayConfig, tunnels: [{ id: 'corp', secrets: [next] }] });
    expect(await echo()).toBe(200);
    expect(h.gateway.registry.connections('corp').map((c) => c.id).sort()).toEqual(before);
  });
});
