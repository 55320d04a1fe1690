import pino, { type Logger } from 'pino';
import { Subject } from 'rxjs';
import { AuditTrail, RequestAudit, auditSink } from '../../../src/audit';
import { Metrics, meterProxy } from '../../../src/ops';
import { parsePrometheus } from '../../helpers/prometheus';

const silent = pino({ level: 'silent' });

async function samples(m: Metrics): Promise<Map<string, number>> {
  return parsePrometheus(await m.render()).samples;
}

describe('metrics fed from the audit trail', () => {
  it('counts a request from its audit record start and finish, and audit write failures from the sink', async () => {
    const m = new Metrics({ role: 'proxy', version: 't', defaultMetrics: false });
    const trail = new AuditTrail(silent);
    const board = new Subject<{ state: string; code?: string }>();
    const detach = meterProxy(m, { trail, tunnelId: 'corp', counts: () => ({ connecting: 1, authenticated: 2, draining: 0 }), slotStatus$: board, secret: () => 's' });
    // A destination whose write throws: the sink reports it, the metric counts it.
    const broken = { info: () => { throw new Error('disk full'); } } as unknown as Logger;
    const sink = auditSink(trail.records$, broken, silent, trail.writeFailed).subscribe();

    const audit = RequestAudit.proxy({ rid: 'r1', tunnel: 'corp', server: 'notes', upstream: 'http://u/mcp', httpMethod: 'GET' }, trail.hooks);
    let s = await samples(m);
    expect(s.get('mcp_tunnel_requests_in_flight{server="notes"}')).toBe(1);
    expect(s.get('mcp_tunnel_sse_streams{server="notes"}')).toBe(1);
    audit.setStatus(200).addBytesOut(10).finish();
    audit.finish(); // a second finish is a no-op: counted once
    board.next({ state: 'waiting', code: 'TUNNEL_AUTH_FAILED' });
    board.next({ state: 'waiting', code: 'TUNNEL_DIAL_FAILED' });
    board.next({ state: 'connecting' });
    s = await samples(m);
    expect(s.get('mcp_tunnel_requests_in_flight{server="notes"}')).toBe(0);
    expect(s.get('mcp_tunnel_sse_streams{server="notes"}')).toBe(0);
    expect(s.get('mcp_tunnel_requests_total{server="notes",code_class="2xx"}')).toBe(1);
    expect(s.get('mcp_tunnel_response_bytes_total{server="notes"}')).toBe(10);
    expect(s.get('mcp_tunnel_audit_write_failures_total')).toBe(1);
    expect(s.get('mcp_tunnel_reconnects_total{tunnel="corp"}')).toBe(2);
    expect(s.get('mcp_tunnel_auth_failures_total{reason="TUNNEL_AUTH_FAILED"}')).toBe(1);
    expect(s.has('mcp_tunnel_auth_failures_total{reason="TUNNEL_DIAL_FAILED"}')).toBe(false);
    expect(s.get('mcp_tunnel_connections{tunnel="corp",state="connecting"}')).toBe(1);
    expect(s.get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}')).toBe(2);
    expect(s.get('mcp_tunnel_secret_in_use{tunnel="corp",secret_id="loaded-1"}')).toBe(1);

    // Detached (the component stopped): nothing more is counted.
    detach();
    sink.unsubscribe();
    RequestAudit.proxy({ rid: 'r2', tunnel: 'corp', server: 'notes', upstream: 'http://u/mcp', httpMethod: 'POST' }, trail.hooks).finish();
    expect((await samples(m)).get('mcp_tunnel_requests_total{server="notes",code_class="none"}')).toBe(0);
  });
});
