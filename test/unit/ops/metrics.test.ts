import { Metrics } from '../../../src/ops';
import { parsePrometheus as parse } from '../../helpers/prometheus';

describe('Metrics', () => {
  it('exports the issue-11 metric set with Prometheus names and types', async () => {
    const m = new Metrics({ role: 'gateway', version: '1.2.3', defaultMetrics: false });
    const { types } = parse(await m.render());
    expect(Object.fromEntries([...types].filter(([n]) => n.startsWith('mcp_tunnel_')))).toEqual({
      mcp_tunnel_connections: 'gauge',
      mcp_tunnel_reconnects_total: 'counter',
      mcp_tunnel_auth_failures_total: 'counter',
      mcp_tunnel_requests_total: 'counter',
      mcp_tunnel_requests_in_flight: 'gauge',
      mcp_tunnel_request_bytes_total: 'counter',
      mcp_tunnel_response_bytes_total: 'counter',
      mcp_tunnel_request_duration_seconds: 'histogram',
      mcp_tunnel_sse_streams: 'gauge',
      mcp_tunnel_secret_in_use: 'gauge',
      mcp_tunnel_audit_write_failures_total: 'counter',
      mcp_tunnel_build_info: 'gauge',
    });
    for (const name of types.keys()) expect(name).toMatch(/^[a-z_][a-z0-9_]*$/);
  });

  it('counts requests by server and status class, in flight, bytes and duration', async () => {
    const m = new Metrics({ role: 'gateway', version: '1.2.3', defaultMetrics: false });
    const notes = m.server('notes');
    expect(m.server('notes')).toBe(notes);
    notes.started(false);
    notes.started(true);
    let s = parse(await m.render()).samples;
    expect(s.get('mcp_tunnel_requests_in_flight{server="notes"}')).toBe(2);
    expect(s.get('mcp_tunnel_sse_streams{server="notes"}')).toBe(1);
    notes.finished(false, 200, 100, 2000, 0.002);
    notes.finished(true, 0, 0, 0, 0.5);
    notes.started(false);
    notes.finished(false, 503, 5, 0, 100);
    notes.started(false);
    notes.finished(false, 1000, 0, 0, 0);
    s = parse(await m.render()).samples;
    expect(s.get('mcp_tunnel_requests_in_flight{server="notes"}')).toBe(0);
    expect(s.get('mcp_tunnel_requests_total{server="notes",code_class="2xx"}')).toBe(1);
    expect(s.get('mcp_tunnel_requests_total{server="notes",code_class="5xx"}')).toBe(1);
    expect(s.get('mcp_tunnel_requests_total{server="notes",code_class="none"}')).toBe(2);
    expect(s.get('mcp_tunnel_request_bytes_total{server="notes"}')).toBe(105);
    expect(s.get('mcp_tunnel_response_bytes_total{server="notes"}')).toBe(2000);
    expect(s.get('mcp_tunnel_request_duration_seconds_count{server="notes"}')).toBe(4);
    expect(s.get('mcp_tunnel_request_duration_seconds_bucket{server="notes",le="0.001"}')).toBe(1);
    expect(s.get('mcp_tunnel_request_duration_seconds_bucket{server="notes",le="0.005"}')).toBe(2);
    expect(s.get('mcp_tunnel_request_duration_seconds_bucket{server="notes",le="60"}')).toBe(3);
    expect(s.get('mcp_tunnel_request_duration_seconds_bucket{server="notes",le="+Inf"}')).toBe(4);
    expect(s.get('mcp_tunnel_sse_streams{server="notes"}')).toBe(0);
  });

  it('bounds the server and reason labels: unknown servers and names past the cap share "other"', async () => {
    const m = new Metrics({ role: 'gateway', version: '1', defaultMetrics: false });
    const known = (n: string): boolean => n.startsWith('s');
    expect(m.server('made-up', known).server).toBe('other');
    for (let i = 0; i < 300; i++) m.server(`s${i}`, known);
    expect(m.server('s299', known).server).toBe('other');
    expect(m.server('s0', known).server).toBe('s0');
    m.authFailure('not a code');
    m.authFailure('TUNNEL_AUTH_FAILED');
    const s = parse(await m.render()).samples;
    expect(s.get('mcp_tunnel_auth_failures_total{reason="other"}')).toBe(1);
    expect(s.get('mcp_tunnel_auth_failures_total{reason="TUNNEL_AUTH_FAILED"}')).toBe(1);
  });

  it('runs beforeScrape collectors at each scrape, until removed', async () => {
    const m = new Metrics({ role: 'gateway', version: '1', defaultMetrics: false });
    let n = 0;
    const remove = m.beforeScrape(() => m.tunnel('corp').setConnections('authenticated', ++n));
    expect(parse(await m.render()).samples.get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}')).toBe(1);
    expect(parse(await m.render()).samples.get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}')).toBe(2);
    remove();
    expect(parse(await m.render()).samples.get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}')).toBe(2);
    m.tunnel('corp').setSecrets(new Map([['0', 2], ['1', 1]]));
    m.tunnel('corp').setSecrets(new Map([['1', 3]]));
    const s = parse(await m.render()).samples;
    expect(s.has('mcp_tunnel_secret_in_use{tunnel="corp",secret_id="0"}')).toBe(false);
    expect(s.get('mcp_tunnel_secret_in_use{tunnel="corp",secret_id="1"}')).toBe(3);
  });

  it('tracks tunnel connections, reconnects, auth failures, audit failures and the secret label', async () => {
    const m = new Metrics({ role: 'proxy', version: '9.9.9', defaultMetrics: false });
    const t = m.tunnel('corp');
    t.setConnections('authenticated', 2);
    t.reconnected();
    t.secretInUse('0');
    t.secretInUse('1');
    m.authFailure('TUNNEL_AUTH_FAILED');
    m.authFailure('TUNNEL_AUTH_FAILED');
    m.auditWriteFailure();
    const s = parse(await m.render()).samples;
    expect(s.get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}')).toBe(2);
    expect(s.get('mcp_tunnel_connections{tunnel="corp",state="connecting"}')).toBe(0);
    expect(s.get('mcp_tunnel_reconnects_total{tunnel="corp"}')).toBe(1);
    expect(s.get('mcp_tunnel_secret_in_use{tunnel="corp",secret_id="1"}')).toBe(1);
    expect(s.has('mcp_tunnel_secret_in_use{tunnel="corp",secret_id="0"}')).toBe(false);
    expect(s.get('mcp_tunnel_auth_failures_total{reason="TUNNEL_AUTH_FAILED"}')).toBe(2);
    expect(s.get('mcp_tunnel_audit_write_failures_total')).toBe(1);
    expect(s.get('mcp_tunnel_build_info{version="9.9.9",role="proxy"}')).toBe(1);
  });

  it('keeps two instances apart (own registries) and exports process metrics by default', async () => {
    const a = new Metrics({ role: 'proxy', version: '1', defaultMetrics: true });
    const b = new Metrics({ role: 'proxy', version: '1', defaultMetrics: true });
    a.server('x').started(false);
    expect(await b.render()).not.toContain('server="x"');
    expect(await a.render()).toMatch(/^process_cpu_user_seconds_total /m);
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});
