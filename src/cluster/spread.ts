import type { IncomingMessage } from 'node:http';

/** Response header of a tunnel upgrade (101, or the 503 of a redirect): the replica that answered. */
export const REPLICA_HEADER = 'x-mcp-tunnel-replica';
/** Request header of a proxy's tunnel upgrade: the replicas its other live connections are on. */
export const AVOID_HEADER = 'x-mcp-tunnel-avoid-replicas';
/** Most replica ids read from {@link AVOID_HEADER} (the rest is ignored). */
const MAX_AVOID = 16;

/**
 * Spreads a proxy's redundant connections across replicas (docs/cluster.md "Proxies across
 * replicas"). Every tunnel upgrade answer names the replica; the proxy lists the replicas its other
 * connections are on, and a replica it lists refuses the new connection (503, `Retry-After: 0`) when
 * another live replica is not on the list, so the balancer's next pick can land elsewhere. A proxy
 * stops sending the list after two refusals in a row (a balancer with affinity would otherwise keep
 * it away), and a replica accepts whenever it is the only choice: the hint never costs a tunnel.
 */
export class TunnelSpread {
  constructor(
    readonly replicaId: string,
    /** Ids of the other live replicas (presence). */
    private readonly others: () => Iterable<string>,
  ) {}

  /** True when this upgrade should be refused so that the proxy tries another replica. */
  redirect(req: IncomingMessage): boolean {
    const avoid = avoidedReplicas(req.headers[AVOID_HEADER]);
    if (!avoid.has(this.replicaId)) return false;
    for (const id of this.others()) if (!avoid.has(id)) return true;
    return false;
  }
}

/** The replica ids of an {@link AVOID_HEADER} value (comma-separated, at most 16, each ≤ 64 chars). */
export function avoidedReplicas(value: string | string[] | undefined): Set<string> {
  const raw = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s.length <= 64)
      .slice(0, MAX_AVOID),
  );
}

/** A connection this young is never asked to move (it may be the replacement of a moved one). */
const MIN_AGE_TO_MOVE_MS = 2000;

/** What {@link moveDuplicate} needs of a tunnel connection. */
export interface MovableConnection {
  readonly tunnelId: string;
  readonly proxyName: string;
  readonly connectedAt: number;
  readonly mux: { readonly canOpenStream: boolean; goAway(code?: number, reason?: string): void };
}

/**
 * When other replicas are live and one proxy (by name) holds two or more usable connections of a
 * tunnel here, asks the newest to move: GOAWAY, which the proxy answers with a make-before-break
 * replacement that carries the avoid hint (so the old one drains only once the new one is up
 * elsewhere). At most one per call (each presence round), so connections move one at a time.
 * Returns the connection asked to move, or null.
 */
export function moveDuplicate<C extends MovableConnection>(local: readonly C[], otherReplicas: number, now: number): C | null {
  if (otherReplicas === 0) return null;
  const groups = new Map<string, C[]>();
  for (const c of local) {
    if (!c.mux.canOpenStream) continue;
    const k = `${c.tunnelId}\0${c.proxyName}`;
    groups.set(k, [...(groups.get(k) ?? []), c]);
  }
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const newest = group.reduce((a, b) => (b.connectedAt > a.connectedAt ? b : a));
    if (now - newest.connectedAt < MIN_AGE_TO_MOVE_MS) continue;
    newest.mux.goAway(0, 'another gateway replica is available; reconnect there');
    return newest;
  }
  return null;
}
