import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { spawnCli, stopAllProcesses, type SpawnedProcess } from '../../helpers/process';
import { waitFor } from '../../helpers/wait-for';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { expectedIds, readStream } from '../rotation/helpers';

/** The built `mcp-tunnel proxy` as a child process against an in-process gateway (run `npm run build` first). */
describe('proxy graceful drain on SIGTERM (child process)', () => {
  let upstream: StreamableUpstreamHandle;
  let h: Harness;

  beforeEach(async () => {
    upstream = await startStreamableUpstream();
    h = await startHarness({ servers: [{ name: 'sse', url: `${upstream.origin}/raw/sse` }], startProxy: false });
  });
  afterEach(async () => {
    await stopAllProcesses();
    await h.close();
    await upstream.close();
  });

  function spawnProxy(env: Record<string, string> = {}): SpawnedProcess {
    return spawnCli(['proxy', '--url', h.proxyConfig.url], {
      cleanEnv: true,
      env: { MCP_TUNNEL_SECRET: h.secret, MCP_TUNNEL_PROXY_NAME: 'drain-proxy', MCP_TUNNEL_CONNECTIONS: '2', MCP_TUNNEL_RECONNECT_BASE_MS: '50', ...env },
    });
  }

  it('SIGTERM: GOAWAY on every connection, the in-flight request finishes, then exit 0', async () => {
    const proxy = spawnProxy();
    await waitFor(() => h.gateway.registry.connections('corp').length === 2, { message: 'both connections of the child proxy' });
    const conns = h.gateway.registry.connections('corp');

    let flowing = false;
    const long = readStream(h, 'sse', '?events=20&intervalMs=40', () => (flowing = true));
    await waitFor(() => flowing, { message: 'the long stream to start' });

    proxy.child.kill('SIGTERM');
    await proxy.waitForJson((e) => e.msg === 'proxy draining');
    await waitFor(() => conns.every((c) => c.mux.isDraining), { message: 'GOAWAY on every connection' });
    expect(proxy.exitInfo).toBeUndefined();

    const result = await long;
    expect(result).toMatchObject({ status: 200, error: null });
    expect(result.ids).toEqual(expectedIds(20));
    expect(await proxy.exited).toEqual({ code: 0, signal: null });
    const msgs = proxy.jsonLines().map((l) => l.msg);
    expect(msgs).toContain('proxy stopped');
    expect(msgs).not.toContain('drain grace period over; cutting the requests still in flight');
    // It did not reconnect while draining.
    expect(proxy.jsonLines().filter((l) => l.msg === 'tunnel connected and authenticated')).toHaveLength(2);
  });

  it('a second SIGTERM during the drain exits at once (143)', async () => {
    const proxy = spawnProxy({ MCP_TUNNEL_DRAIN_GRACE_MS: '60000' });
    await waitFor(() => h.gateway.registry.connections('corp').length === 2, { message: 'both connections of the child proxy' });
    let flowing = false;
    const long = readStream(h, 'sse', '?events=1000&intervalMs=50', () => (flowing = true));
    await waitFor(() => flowing, { message: 'the long stream to start' });

    proxy.child.kill('SIGTERM');
    await proxy.waitForJson((e) => e.msg === 'proxy draining');
    proxy.child.kill('SIGTERM');
    expect(await proxy.exited).toEqual({ code: 143, signal: null });
    // The cut request ends with an error, not a hang.
    const result = await long;
    expect(result.ids.length).toBeLessThan(1000);
  });
});
