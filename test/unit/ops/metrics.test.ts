import { Metrics } from '../../../src/ops';

/** Parses the Prometheus text format into `name{labels}` → value, and `# TYPE` lines into name → type. */
function parse(text: string): { samples: Map<string, number>; types: Map<string, string> } {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    else if (line && !line.startsWith('#')) {
      const i = line.lastIndexOf(' ');
      samples.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
  }
  return { samples, types };
}

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
    const a = notes.start();
    const b = notes.start();
    let s = parse(await m.render()).samples;
    expect(s.get('mcp_tunnel_requests_in_flight{server="notes"}')).toBe(2);
    notes.finish(a, 200, 100, 2000);
    notes.finish(b, 0, 0, 0);
    notes.finish(notes.start(), 503, 5, 0);
    notes.finish(notes.start(), 1000, 0, 0);
    s = parse(await m.render()).samples;
    expect(s.get('mcp_tunnel_requests_in_flight{server="notes"}')).toBe(0);
    expect(s.get('mcp_tunnel_requests_total{server="notes",code_class="2xx"}')).toBe(1);
    expect(s.get('mcp_tunnel_requests_total{server="notes",code_class="5xx"}')).toBe(1);
    expect(s.get('mcp_tunnel_requests_total{server="notes",code_class="none"}')).toBe(2);
    expect(s.get('mcp_tunnel_request_bytes_total{server="notes"}')).toBe(105);
    expect(s.get('mcp_tunnel_response_bytes_total{server="notes"}')).toBe(2000);
    expect(s.get('mcp_tunnel_request_duration_seconds_count{server="notes"}')).toBe(4);
    notes.sseOpened();
    notes.sseOpened();
    notes.sseClosed();
    expect(parse(await m.render()).samples.get('mcp_tunnel_sse_streams{server="notes"}')).toBe(1);
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
    a.server('x').finish(a.server('x').start(), 200, 0, 0);
    expect(await b.render()).not.toContain('server="x"');
    expect(await a.render()).toMatch(/^process_cpu_user_seconds_total /m);
    expect(a.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  // The bench's speed targets: ~0.35 µs a request under plain node (two performance.now() calls are
  // most of it); under jest's transform and a shared machine it is several times that, hence the
  // loose bound. (prom-client's label children, which hash their labels into a string on every
  // call, cost ~3 µs a request under plain node; ServerMetrics keeps plain numbers instead.)
  it('costs little per request (plain numbers, no label hashing on the request path)', () => {
    const m = new Metrics({ role: 'gateway', version: '1', defaultMetrics: false });
    const s = m.server('notes');
    const n = 200_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) s.finish(s.start(), 200, 10, 10);
    const perRequestNs = Number(process.hrtime.bigint() - t0) / n;
    expect(perRequestNs).toBeLessThan(10_000);
  });
});
