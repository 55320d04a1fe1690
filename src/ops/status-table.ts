import { OPS_CODES, OpsError } from './errors';
import type { ClusterStatus, StatusReport } from './status-report';

/**
 * Checks that an ops answer is a status report (the parts `mcp-tunnel status` prints); extra keys
 * are allowed (the shape grows, e.g. cluster replicas).
 * @throws OpsError `TUNNEL_STATUS_BAD_ANSWER`
 */
export function parseStatusReport(body: string): StatusReport {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    throw new OpsError(OPS_CODES.statusBadAnswer, `the answer is not JSON: ${JSON.stringify(body.slice(0, 120))}`);
  }
  const r = v as Partial<StatusReport> | null;
  if (typeof r !== 'object' || r === null || typeof r.replica !== 'object' || r.replica === null || !Array.isArray(r.tunnels)) {
    throw new OpsError(OPS_CODES.statusBadAnswer, 'the answer is not a status report (no "replica" and "tunnels"): is this a gateway\'s ops listener?');
  }
  for (const t of r.tunnels) {
    if (typeof t !== 'object' || t === null || typeof t.id !== 'string' || !Array.isArray(t.connections)) {
      throw new OpsError(OPS_CODES.statusBadAnswer, 'the answer has a malformed "tunnels" entry');
    }
  }
  return r as StatusReport;
}

/** `3725` → `1h 2m`, `65` → `1m 5s`. */
export function formatAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** Left-aligned columns separated by two spaces. */
function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** Control characters out of peer-chosen text (a proxy names itself) before it reaches a terminal. */
function clean(text: unknown): string {
  // eslint-disable-next-line no-control-regex -- that is the point
  return String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** The readable form of a status report: a replica line, then one row per connection (a tunnel with none gets one row). */
export function renderStatusTable(r: StatusReport): string {
  const rep = r.replica;
  const head = `${clean(rep.role)} ${clean(rep.version)}  pid ${clean(rep.pid)}  up ${formatAge(rep.uptimeSeconds)}  requests in flight ${clean(rep.inFlight)}`;
  const rows: string[][] = [['TUNNEL', 'READY', 'PROXY', 'ADDRESS', 'AGE', 'SECRET', 'STREAMS', 'STATE']];
  for (const t of r.tunnels) {
    const ready = t.ready ? 'yes' : 'no';
    if (t.connections.length === 0) rows.push([clean(t.id), ready, '-', '-', '-', '-', '-', 'no proxy connected']);
    for (const c of t.connections) {
      rows.push([clean(t.id), ready, clean(c.proxy), clean(c.remoteAddress), formatAge(c.ageSeconds), c.secretId === null ? 'revoked' : clean(c.secretId), clean(c.streams), clean(c.state)]);
    }
  }
  const tunnels = r.tunnels.length === 0 ? ['(no tunnels configured)'] : table(rows);
  return [head, ...tunnels, ...renderCluster(r.cluster ?? null), ''].join('\n');
}

/**
 * The cluster part: a line for this replica's view, then one row per live replica with the tunnels
 * it holds (`corp(2)`: two connections) and their load (streams in flight). A peer is listed only
 * while its presence entry in Redis is fresh, so its REDIS is `ok`; a degraded replica sees no peer.
 */
function renderCluster(c: ClusterStatus | null): string[] {
  if (c === null || typeof c !== 'object' || !Array.isArray(c.replicas)) return [];
  const head = `cluster replica ${clean(c.replicaId)}  redis ${clean(c.redis)}  replicas ${c.replicas.length}  hops ${clean(c.hops)}`;
  const rows: string[][] = [['REPLICA', 'ADVERTISE', 'SELF', 'TUNNELS', 'LOAD', 'REDIS']];
  for (const rep of c.replicas) {
    const held = new Map<string, number>();
    let load = 0;
    for (const t of Array.isArray(rep.tunnels) ? rep.tunnels : []) {
      held.set(t.tunnel, (held.get(t.tunnel) ?? 0) + 1);
      load += Number(t.load) || 0;
    }
    const tunnels = held.size === 0 ? '-' : [...held].map(([t, n]) => (n === 1 ? clean(t) : `${clean(t)}(${n})`)).join(',');
    rows.push([clean(rep.id), clean(rep.advertise), rep.self ? 'yes' : 'no', tunnels, String(load), rep.self ? clean(c.redis) : 'ok']);
  }
  return ['', head, ...table(rows)];
}
