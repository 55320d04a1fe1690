import { Subject, filter, firstValueFrom, map, startWith, take, timeout, takeUntil, type Observable, EMPTY, catchError } from '../rx';
import type { Multiplexer } from '../mux';
import type { ConnectionSnapshot } from '../ops';
import { GatewayError } from './errors';
import { SessionBinding } from './session-binding';

/** One authenticated proxy connection of a tunnel. */
export interface TunnelConnection {
  readonly id: string;
  readonly tunnelId: string;
  readonly mux: Multiplexer;
  readonly proxyName: string;
  readonly remoteAddress: string;
  readonly connectedAt: number;
  /** Cluster: the replica whose connection this internal hop reaches (absent for a local connection). */
  readonly via?: string;
}

/**
 * Tunnel connections other gateway replicas hold, reached through the internal hop (src/cluster;
 * docs/cluster.md). Asked only when no local connection is usable: a local one costs no extra hop.
 */
export interface RemoteConnections {
  /** A usable hop for the tunnel: the one to `preferConn` if usable, else the least loaded; null if none. */
  pick(tunnelId: string, preferConn: string | undefined): TunnelConnection | null;
  /** Where another replica bound the session (Redis), or undefined; never rejects. */
  sessionConnection(tunnelId: string, sessionKey: string): Promise<string | undefined>;
}

/**
 * Live tunnel connections, per tunnel. Session affinity (which connection an MCP session lives on)
 * is read from {@link SessionBinding}, the one owner of session state.
 */
export class TunnelRegistry {
  private readonly byTunnel = new Map<string, Map<string, TunnelConnection>>();
  private readonly changes = new Subject<string>();
  private remote: RemoteConnections | null = null;

  /** @param sessions session → connection and session → identity bindings (shared with the request path). */
  constructor(readonly sessions: SessionBinding = new SessionBinding()) {}

  /** Cluster hook: fall back to connections of other replicas (their changes come through {@link notify}). */
  attachRemote(remote: RemoteConnections): void {
    this.remote = remote;
  }

  add(conn: TunnelConnection): void {
    let m = this.byTunnel.get(conn.tunnelId);
    if (!m) this.byTunnel.set(conn.tunnelId, (m = new Map<string, TunnelConnection>()));
    m.set(conn.id, conn);
    this.changes.next(conn.tunnelId);
  }

  remove(conn: TunnelConnection): void {
    const m = this.byTunnel.get(conn.tunnelId);
    if (!m?.delete(conn.id)) return;
    if (m.size === 0) this.byTunnel.delete(conn.tunnelId);
    this.sessions.forgetConnection(conn.id);
    this.changes.next(conn.tunnelId);
  }

  connections(tunnelId: string): TunnelConnection[] {
    return [...(this.byTunnel.get(tunnelId)?.values() ?? [])];
  }

  /** Every connection now, as plain data (for `/status` and metrics; read-only). */
  snapshot(): Array<Omit<ConnectionSnapshot, 'secretIndex'>> {
    return this.all().map((c) => ({
      id: c.id,
      tunnelId: c.tunnelId,
      proxyName: c.proxyName,
      remoteAddress: c.remoteAddress,
      connectedAt: c.connectedAt,
      streams: c.mux.activeStreams,
      draining: c.mux.isDraining,
    }));
  }

  all(): TunnelConnection[] {
    return [...this.byTunnel.values()].flatMap((m) => [...m.values()]);
  }

  /**
   * Picks a connection that can take a new stream: the session's own connection if it is still
   * usable, otherwise the one with the fewest streams in flight. Null if none is usable now.
   */
  pick(tunnelId: string, sessionKey: string | null): TunnelConnection | null {
    const m = this.byTunnel.get(tunnelId);
    const bound = sessionKey ? this.sessions.connectionOf(tunnelId, sessionKey) : undefined;
    if (bound !== undefined) {
      const c = m?.get(bound);
      if (c && c.mux.canOpenStream) return c;
      const hop = this.remote?.pick(tunnelId, bound);
      if (hop && hop.id === bound) return hop;
    }
    return this.pickLocal(tunnelId) ?? this.remote?.pick(tunnelId, undefined) ?? null;
  }

  /** The local connection of the tunnel with the fewest streams in flight that can take one now; null if none. */
  pickLocal(tunnelId: string): TunnelConnection | null {
    let best: TunnelConnection | null = null;
    for (const c of this.byTunnel.get(tunnelId)?.values() ?? []) {
      if (!c.mux.canOpenStream) continue;
      if (!best || c.mux.activeStreams < best.mux.activeStreams) best = c;
    }
    return best;
  }

  /**
   * Waits up to `waitMs` for a usable connection of the tunnel.
   * @throws GatewayError TUNNEL_NOT_CONNECTED (no proxy) or TUNNEL_STREAM_REFUSED (all busy or
   *   draining) after the wait; resolves null if `cancel$` fires first.
   */
  async acquire(tunnelId: string, sessionKey: string | null, waitMs: number, cancel$: Observable<unknown>): Promise<TunnelConnection | null> {
    if (this.remote && sessionKey && this.sessions.connectionOf(tunnelId, sessionKey) === undefined) {
      // A session another replica bound: learn its connection before picking (cluster only).
      const conn = await this.remote.sessionConnection(tunnelId, sessionKey);
      if (conn !== undefined) this.sessions.adopt(tunnelId, sessionKey, conn);
    }
    const now = this.pick(tunnelId, sessionKey);
    if (now) return now;
    return firstValueFrom(
      this.changes.pipe(
        filter((t) => t === tunnelId),
        startWith(tunnelId),
        map(() => this.pick(tunnelId, sessionKey)),
        filter((c): c is TunnelConnection => c !== null),
        take(1),
        timeout({
          first: waitMs,
          with: () => {
            const live = this.byTunnel.get(tunnelId)?.size ?? 0;
            if (live > 0) {
              // Connected, but every connection is draining or at its stream limit.
              throw new GatewayError('TUNNEL_STREAM_REFUSED', `all ${live} connection(s) of tunnel "${tunnelId}" are busy or draining (waited ${waitMs} ms)`, { retryAfter: 1 });
            }
            throw new GatewayError('TUNNEL_NOT_CONNECTED', `tunnel "${tunnelId}" has no connected proxy (waited ${waitMs} ms)`);
          },
        }),
        takeUntil(cancel$.pipe(catchError(() => EMPTY))),
      ),
      { defaultValue: null },
    );
  }

  /** Signals that capacity may have changed (a stream finished), so waiters re-check. */
  notify(tunnelId: string): void {
    this.changes.next(tunnelId);
  }

  /** Re-checks every waiter (after a configuration reload). */
  notifyAll(): void {
    for (const t of this.byTunnel.keys()) this.changes.next(t);
  }

  close(): void {
    this.changes.complete();
  }
}
