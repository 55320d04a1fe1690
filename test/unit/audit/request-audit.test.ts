import { McpRequestInspector } from '../../../src/audit/inspector';
import { type GatewayAuditRecord, type ProxyAuditRecord } from '../../../src/audit/records';
import { RequestAudit } from '../../../src/audit/request-audit';

function fakeClock(start = 1000): { clock: () => number; advance: (ms: number) => void } {
  let now = start;
  return { clock: () => now, advance: (ms) => void (now += ms) };
}

const gatewayStart = { rid: 'r-1', client: 'alice', server: 'docs', tunnel: 'corp', httpMethod: 'POST', path: '/mcp/docs' };

describe('RequestAudit', () => {
  it('builds a gateway record from the start fields, counters and an injected clock', () => {
    const { clock, advance } = fakeClock();
    const audit = RequestAudit.gateway(gatewayStart, { clock });
    audit.annotate({ conn: 'c-1', sessionId: 'sess-9' });
    audit.addBytesIn(100).addBytesIn(20).addBytesOut(5).setStatus(200);
    advance(12.3456);
    const expected: GatewayAuditRecord = {
      side: 'gateway',
      rid: 'r-1',
      client: 'alice',
      server: 'docs',
      tunnel: 'corp',
      conn: 'c-1',
      httpMethod: 'POST',
      path: '/mcp/docs',
      status: 200,
      outcome: 'ok',
      errorCode: null,
      mcpMethod: null,
      jsonrpcId: null,
      tool: null,
      sessionId: 'sess-9',
      inspection: 'none',
      policy: null,
      requestSha256: null,
      responseSha256: null,
      bytesIn: 120,
      bytesOut: 5,
      durationMs: 12.346,
    };
    expect(audit.finish()).toEqual(expected);
  });

  it('finishes exactly once: a second finish is ignored, and so is everything after the first', () => {
    const { clock, advance } = fakeClock();
    const finished: unknown[] = [];
    const audit = RequestAudit.gateway(gatewayStart, { clock, onFinish: (r) => finished.push(r) });
    advance(5);
    const record = audit.finish();
    advance(100);
    audit.addBytesIn(1).addBytesOut(1).setStatus(500).fail('TUNNEL_X').abort().annotate({ conn: 'late' });
    expect(audit.finish()).toBeNull();
    expect(audit.finished).toBe(true);
    expect(finished).toEqual([record]);
    expect(record).toMatchObject({ durationMs: 5, bytesIn: 0, status: 0, outcome: 'ok', conn: null });
    expect(Object.isFrozen(record)).toBe(true);
  });

  it('keeps the first failure: fail then abort stays an error, abort then fail stays aborted', () => {
    const a = RequestAudit.gateway(gatewayStart).fail('TUNNEL_UPSTREAM_TIMEOUT').abort('TUNNEL_CLIENT_ABORTED');
    expect(a.outcome).toBe('error');
    expect(a.finish()).toMatchObject({ outcome: 'error', errorCode: 'TUNNEL_UPSTREAM_TIMEOUT' });
    const b = RequestAudit.gateway(gatewayStart).abort().fail('TUNNEL_UPSTREAM_TIMEOUT');
    expect(b.finish()).toMatchObject({ outcome: 'aborted', errorCode: null });
  });

  it('takes the MCP fields from the inspector', () => {
    const inspector = new McpRequestInspector();
    inspector.push(Buffer.from('{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"name":"grep"}}'));
    const audit = RequestAudit.gateway(gatewayStart).setMcp(inspector.finish());
    expect(audit.finish()).toMatchObject({ mcpMethod: 'tools/call', jsonrpcId: 'a1', tool: 'grep' });
  });

  it('strips query strings from the path and cuts the session id to 64 characters', () => {
    const audit = RequestAudit.gateway({ ...gatewayStart, path: '/mcp/docs?key=secret#x', sessionId: 'z'.repeat(100) });
    expect(audit.finish()).toMatchObject({ path: '/mcp/docs', sessionId: 'z'.repeat(64) });
  });

  it('builds a proxy record whose upstream has no query, fragment or credentials', () => {
    const { clock, advance } = fakeClock(0);
    const audit = RequestAudit.proxy(
      { rid: 'r-1', tunnel: 'corp', server: 'docs', upstream: 'https://u:p@docs.internal:8443/v1/mcp?token=t#f', httpMethod: 'GET' },
      { clock },
    );
    audit.setStatus(502).fail('TUNNEL_UPSTREAM_UNREACHABLE');
    advance(2);
    const expected: ProxyAuditRecord = {
      side: 'proxy',
      rid: 'r-1',
      tunnel: 'corp',
      server: 'docs',
      upstream: 'https://docs.internal:8443/v1/mcp',
      httpMethod: 'GET',
      status: 502,
      outcome: 'error',
      errorCode: 'TUNNEL_UPSTREAM_UNREACHABLE',
      egress: null,
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 2,
    };
    expect(audit.finish()).toEqual(expected);
  });

  it('ignores invalid counts and statuses instead of throwing', () => {
    const audit = RequestAudit.gateway(gatewayStart);
    audit.addBytesIn(Number.NaN).addBytesIn(-1).addBytesOut(Infinity).setStatus(-3).setStatus(20.5).setStatus(204);
    expect(audit.finish()).toMatchObject({ bytesIn: 0, bytesOut: 0, status: 204 });
  });

  it('never reports a negative duration, and uses performance.now by default', () => {
    let t = 10;
    const backwards = RequestAudit.gateway(gatewayStart, { clock: () => (t -= 5) });
    expect(backwards.finish()?.durationMs).toBe(0);
    const real = RequestAudit.gateway(gatewayStart).finish();
    expect(real?.durationMs).toBeGreaterThanOrEqual(0);
  });
});
