import { formatAge, parseStatusReport, renderStatusTable, statusReport } from '../../../src/ops';

describe('status report and table', () => {
  const snap = {
    tunnels: ['corp', 'lab'],
    connections: [
      { id: 'c1', tunnelId: 'corp', proxyName: 'evil\u001b[31mname', remoteAddress: '10.0.0.7', connectedAt: 1_000, streams: 2, draining: false, secretIndex: 0 },
      { id: 'c2', tunnelId: 'corp', proxyName: 'b', remoteAddress: '10.0.0.8', connectedAt: 2_000, streams: 0, draining: true, secretIndex: null },
      { id: 'c3', tunnelId: 'gone', proxyName: 'c', remoteAddress: '10.0.0.9', connectedAt: 2_000, streams: 0, draining: true, secretIndex: null },
    ],
    inFlight: 3,
  };
  const report = statusReport(snap, { version: '1.0.0', pid: 7, startedAt: 0, now: 3_723_000 });

  it('groups connections per configured tunnel (a removed tunnel with live connections still shows) and never ready on draining ones alone', () => {
    expect(report.replica).toEqual({ role: 'gateway', version: '1.0.0', pid: 7, startedAt: '1970-01-01T00:00:00.000Z', uptimeSeconds: 3723, inFlight: 3 });
    expect(report.tunnels.map((t) => [t.id, t.ready, t.connections.length])).toEqual([['corp', true, 2], ['lab', false, 0], ['gone', false, 1]]);
    expect(report.tunnels[0]!.connections[1]).toMatchObject({ secretId: null, state: 'draining', ageSeconds: 3721 });
  });

  it('renders a table with control characters from peers neutralised', () => {
    const text = renderStatusTable(parseStatusReport(JSON.stringify({ ...report, cluster: { future: true } })));
    expect(text).toContain('gateway 1.0.0  pid 7  up 1h 2m  requests in flight 3');
    expect(text).not.toContain('\u001b');
    expect(text).toMatch(/^corp +yes +evil\?\[31mname +10\.0\.0\.7 +1h 2m +0 +2 +authenticated$/m);
    expect(text).toMatch(/^corp +yes +b +10\.0\.0\.8 +1h 2m +revoked +0 +draining$/m);
    expect(text).toMatch(/^lab +no +-/m);
  });

  it('refuses answers that are not a status report', () => {
    expect(() => parseStatusReport('not json')).toThrow(expect.objectContaining({ code: 'TUNNEL_STATUS_BAD_ANSWER' }));
    expect(() => parseStatusReport('{"status":"ready"}')).toThrow(/not a status report/);
    expect(() => parseStatusReport('{"replica":{},"tunnels":[{"id":1}]}')).toThrow(/malformed/);
    expect(formatAge(59)).toBe('59s');
    expect(formatAge(90_000)).toBe('1d 1h');
  });
});
