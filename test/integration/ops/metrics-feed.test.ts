/**
 * The metrics the gateway and the proxy feed (issue 11, part 2): a real gateway and proxy, the SDK
 * upstream and client, both ops listeners scraped over HTTP. Requests that succeed, fail with 4xx
 * and 5xx, and a standalone SSE stream must move the request families on both sides; a proxy with
 * a wrong secret must move the auth-failure counters.
 */
import pino from 'pino';
import { Metrics, startOpsServer } from '../../../src/ops';
import { startProxy } from '../../../src/proxy';
import { startStreamableUpstream } from '../../fixtures/mcp-upstream';
import { Resources, connectClient, waitFor } from '../../helpers';
import { closedPort } from '../../helpers/ports';
import { scrape } from '../../helpers/prometheus';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';

const silent = pino({ level: 'silent' });

/** A loopback port nothing listens on (bound, then closed). */

async function post(h: Harness, server: string, auth: boolean): Promise<number> {
  const res = await fetch(h.mcpUrl(server), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(auth ? { authorization: `Bearer ${h.apiKey}` } : {}) },
    body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
  });
  await res.text();
  return res.status;
}

describe('metrics fed by the gateway and the proxy', () => {
  const res = new Resources();
  afterEach(() => res.closeAll());

  async function setup(): Promise<{ h: Harness; gw: string; px: string; gm: Metrics }> {
    const upstream = res.add(await startStreamableUpstream());
    const gm = new Metrics({ role: 'gateway', version: 'test', defaultMetrics: false });
    const pm = new Metrics({ role: 'proxy', version: 'test', defaultMetrics: false });
    const h = res.add(
      await startHarness({
        servers: [
          { name: 'notes', url: upstream.url },
          { name: 'down', url: `http://127.0.0.1:${await closedPort()}/mcp` },
        ],
        metrics: { gateway: gm, proxy: pm },
      }),
    );
    const gwOps = res.add(await startOpsServer({ listen: { host: '127.0.0.1', port: 0 }, ready: () => ({ ready: true }), metrics: gm, logger: silent }));
    const pxOps = res.add(await startOpsServer({ listen: { host: '127.0.0.1', port: 0 }, ready: () => ({ ready: true }), metrics: pm, logger: silent }));
    return { h, gw: gwOps.url, px: pxOps.url, gm };
  }

  it('counts requests by server and status class, bytes, duration, in flight and SSE streams on both sides', async () => {
    const { h, gw, px } = await setup();
    const before = await scrape(gw);
    expect(before.get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}')).toBe(1);
    expect(before.get('mcp_tunnel_secret_in_use{tunnel="corp",secret_id="0"}')).toBe(1);
    expect((await scrape(px)).get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}')).toBe(1);
    expect((await scrape(px)).get('mcp_tunnel_secret_in_use{tunnel="corp",secret_id="loaded-1"}')).toBe(1);

    const client = await connectClient(h.mcpUrl('notes'), { headers: { Authorization: `Bearer ${h.apiKey}` } });
    res.add(client);
    await client.client.listTools();
    // The SDK client opens the standalone GET (SSE) stream after initializing: open on both sides.
    for (const base of [gw, px]) {
      await waitFor(async () => (await scrape(base)).get('mcp_tunnel_sse_streams{server="notes"}') === 1, { message: `SSE stream open at ${base}` });
    }
    expect((await scrape(gw)).get('mcp_tunnel_requests_in_flight{server="notes"}')).toBe(1);

    expect(await post(h, 'notes', false)).toBe(401);
    expect(await post(h, 'down', true)).toBe(502);
    expect(await post(h, 'no-such-server', true)).toBe(404);
    await client.close();

    const g = await waitFor(async () => {
      const s = await scrape(gw);
      return s.get('mcp_tunnel_sse_streams{server="notes"}') === 0 ? s : null;
    });
    const ok = g.get('mcp_tunnel_requests_total{server="notes",code_class="2xx"}')!;
    expect(ok).toBeGreaterThanOrEqual(3); // initialize, notifications/initialized, tools/list (and the GET)
    expect(g.get('mcp_tunnel_requests_total{server="notes",code_class="4xx"}')).toBe(1);
    expect(g.get('mcp_tunnel_requests_total{server="down",code_class="5xx"}')).toBe(1);
    // A made-up server name mints no series of its own.
    expect(g.get('mcp_tunnel_requests_total{server="other",code_class="4xx"}')).toBe(1);
    expect([...g.keys()].some((k) => k.includes('no-such-server'))).toBe(false);
    expect(g.get('mcp_tunnel_requests_in_flight{server="notes"}')).toBe(0);
    expect(g.get('mcp_tunnel_request_bytes_total{server="notes"}')).toBeGreaterThan(100);
    expect(g.get('mcp_tunnel_response_bytes_total{server="notes"}')).toBeGreaterThan(100);
    const classes = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'].reduce((n, c) => n + (g.get(`mcp_tunnel_requests_total{server="notes",code_class="${c}"}`) ?? 0), 0);
    expect(g.get('mcp_tunnel_request_duration_seconds_count{server="notes"}')).toBe(classes);
    expect(g.get('mcp_tunnel_request_duration_seconds_bucket{server="notes",le="+Inf"}')).toBe(classes);
    expect(g.get('mcp_tunnel_request_duration_seconds_sum{server="notes"}')).toBeGreaterThan(0);

    // The proxy saw the requests that reached it: not the 401 nor the 404.
    const p = await waitFor(async () => {
      const s = await scrape(px);
      return s.get('mcp_tunnel_sse_streams{server="notes"}') === 0 && s.get('mcp_tunnel_requests_in_flight{server="notes"}') === 0 ? s : null;
    });
    expect(p.get('mcp_tunnel_requests_total{server="notes",code_class="2xx"}')).toBe(ok);
    expect(p.get('mcp_tunnel_requests_total{server="notes",code_class="4xx"}') ?? 0).toBe(0);
    expect(p.get('mcp_tunnel_requests_total{server="down",code_class="none"}')).toBe(1);
    expect(p.get('mcp_tunnel_request_bytes_total{server="notes"}')).toBe(g.get('mcp_tunnel_request_bytes_total{server="notes"}'));
  });

  it('counts a proxy with a wrong secret as an authentication failure on both sides, and its reconnects', async () => {
    const { h, gw } = await setup();
    const wm = new Metrics({ role: 'proxy', version: 'test', defaultMetrics: false });
    const wrong = startProxy({ ...h.proxyConfig, secret: 'x'.repeat(43), name: 'wrong' }, { logger: silent, auditLogger: silent, metrics: wm });
    res.add({ close: () => wrong.close(0) });
    const wOps = res.add(await startOpsServer({ listen: { host: '127.0.0.1', port: 0 }, ready: () => ({ ready: true }), metrics: wm, logger: silent }));
    await waitFor(async () => (await scrape(gw)).get('mcp_tunnel_auth_failures_total{reason="TUNNEL_AUTH_FAILED"}') === 1, { message: 'gateway counted the failure' });
    const w = await waitFor(async () => {
      const s = await scrape(wOps.url);
      return (s.get('mcp_tunnel_auth_failures_total{reason="TUNNEL_AUTH_FAILED"}') ?? 0) >= 1 ? s : null;
    });
    expect(w.get('mcp_tunnel_reconnects_total{tunnel="corp"}')).toBeGreaterThanOrEqual(1);
    expect(w.get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}')).toBe(0);
    // The good proxy is unaffected.
    expect((await scrape(gw)).get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}')).toBe(1);
  });
});
