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

  it('adds a replicas section for a cluster: tunnels held per replica, their load, Redis as this replica sees it', () => {
    expect(report.cluster).toBeNull();
    expect(renderStatusTable(report)).not.toContain('REPLICA');
    const cluster = {
      replicaId: 'aaa',
      redis: 'degraded' as const,
      syncedAt: null,
      hops: 1,
      replicas: [
        { id: 'aaa', advertise: 'http://10.0.0.21:7443', self: true, tunnels: [{ tunnel: 'corp', conn: 'c1', proxy: 'p', load: 2 }, { tunnel: 'corp', conn: 'c2', proxy: 'p', load: 1 }, { tunnel: 'lab', conn: 'c4', proxy: 'q', load: 0 }] },
        { id: 'bbb\u001b', advertise: 'http://10.0.0.22:7443', self: false, tunnels: [] },
      ],
    };
    const text = renderStatusTable(statusReport(snap, { version: '1.0.0', pid: 7, startedAt: 0, now: 3_723_000 }, cluster));
    expect(text).toContain('cluster replica aaa  redis degraded  replicas 2  hops 1');
    expect(text).toMatch(/^REPLICA +ADVERTISE +SELF +TUNNELS +LOAD +REDIS$/m);
    expect(text).toMatch(/^aaa +http:\/\/10\.0\.0\.21:7443 +yes +corp\(2\),lab +3 +degraded$/m);
    expect(text).toMatch(/^bbb\? +http:\/\/10\.0\.0\.22:7443 +no +- +0 +ok$/m);
  });

  it('refuses answers that are not a status report', () => {
    expect(() => parseStatusReport('not json')).toThrow(expect.objectContaining({ code: 'TUNNEL_STATUS_BAD_ANSWER' }));
    expect(() => parseStatusReport('{"status":"ready"}')).toThrow(/not a status report/);
    expect(() => parseStatusReport('{"replica":{},"tunnels":[{"id":1}]}')).toThrow(/malformed/);
    expect(formatAge(59)).toBe('59s');
    expect(formatAge(90_000)).toBe('1d 1h');
  });
});
