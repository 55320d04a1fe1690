import { Subject, Subscription, defer, map, switchMap, type Observable } from '../rx';
import { dial, trustedCas } from '../connection';
import { describeError } from '../errors';
import type { TunnelConnection } from '../gateway/tunnels';
import { F, type Logger } from '../log';
import { Multiplexer } from '../mux';
import { FRAME_HEADER_BYTES, type PeerSettings } from '../protocol';
import { authenticate } from '../session';
import { SOFTWARE } from '../version';
import { CLUSTER_CODES } from './errors';
import { HOP_TUNNEL_ID, hopPath } from './hop-server';
import type { HeldConnection, ReplicaEntry } from './keys';

/** How long a hop that failed to open is not dialled again (the peer's entry may be stale). */
const RETRY_AFTER_FAILURE_MS = 2000;

export interface PeerLinksOptions {
  replicaId: string;
  secret: () => string;
  local: () => PeerSettings;
  handshakeTimeoutMs: () => number;
  heartbeatIntervalMs: () => number;
  logger: Logger;
  now?: () => number;
}

/** One hop to a tunnel connection another replica holds; `conn` once authenticated. */
interface Link {
  replica: string;
  held: HeldConnection;
  conn: TunnelConnection | null;
  sub: Subscription;
}

/**
 * The hops from this replica to the tunnel connections other replicas hold: one authenticated
 * multiplexer per remote connection (so session affinity names an exact connection), opened when
 * presence lists the connection and closed when it no longer does. Each hop appears to the request
 * path as a {@link TunnelConnection} whose `proxyName` names the replica it goes through.
 */
export class PeerLinks {
  readonly #links = new Map<string, Link>();
  readonly #failedAt = new Map<string, number>();
  /** Tunnel ids whose usable hops changed (the registry re-checks its waiters). */
  readonly changes$ = new Subject<string>();
  readonly #now: () => number;

  constructor(private readonly opts: PeerLinksOptions) {
    this.#now = opts.now ?? Date.now;
  }

  /** Opens hops to newly listed connections and closes those no longer listed. */
  reconcile(peers: ReadonlyMap<string, ReplicaEntry>): void {
    const wanted = new Map<string, { entry: ReplicaEntry; held: HeldConnection }>();
    for (const entry of peers.values()) for (const held of entry.tunnels) wanted.set(held.conn, { entry, held });
    for (const [key, link] of this.#links) {
      const w = wanted.get(key);
      if (w && w.entry.id === link.replica) link.held = w.held;
      else this.#drop(key, link);
    }
    for (const [key, { entry, held }] of wanted) {
      if (this.#links.has(key)) continue;
      if (this.#now() - (this.#failedAt.get(key) ?? -Infinity) < RETRY_AFTER_FAILURE_MS) continue;
      this.#open(key, entry, held);
    }
  }

  /**
   * A usable hop for the tunnel: the one to `preferConn` when it is usable, else the one whose
   * connection is least loaded (as the holder last published, plus what we have in flight on it).
   */
  pick(tunnelId: string, preferConn: string | undefined): TunnelConnection | null {
    if (preferConn !== undefined) {
      const l = this.#links.get(preferConn);
      if (l?.conn && l.held.tunnel === tunnelId && l.conn.mux.canOpenStream) return l.conn;
    }
    let best: Link | null = null;
    const load = (l: Link): number => l.held.load + (l.conn?.mux.activeStreams ?? 0);
    for (const l of this.#links.values()) {
      if (l.held.tunnel !== tunnelId || !l.conn?.mux.canOpenStream) continue;
      if (!best || load(l) < load(best)) best = l;
    }
    return best?.conn ?? null;
  }

  /** The replica holding remote connection `connId`, if a hop to it is known. */
  replicaOf(connId: string): string | undefined {
    return this.#links.get(connId)?.replica;
  }

  /** The hops (for status and tests). */
  all(): TunnelConnection[] {
    return [...this.#links.values()].flatMap((l) => (l.conn ? [l.conn] : []));
  }

  close(): void {
    for (const [key, link] of this.#links) this.#drop(key, link);
    this.changes$.complete();
  }

  #drop(key: string, link: Link): void {
    this.#links.delete(key);
    link.sub.unsubscribe();
    link.conn?.mux.close(1001, 'tunnel connection no longer listed');
    this.changes$.next(link.held.tunnel);
  }

  #open(key: string, entry: ReplicaEntry, held: HeldConnection): void {
    const log = this.opts.logger.child({ [F.replica]: entry.id, [F.tunnel]: held.tunnel, [F.connection]: held.conn });
    const link: Link = { replica: entry.id, held, conn: null, sub: new Subscription() };
    this.#links.set(key, link);
    const failed = (reason: string): void => {
      if (this.#links.get(key) !== link) return;
      this.#links.delete(key);
      this.#failedAt.set(key, this.#now());
      link.sub.unsubscribe();
      this.changes$.next(held.tunnel);
      log.warn({ [F.code]: CLUSTER_CODES.hopFailed, [F.reason]: reason }, 'cluster hop to another replica failed');
    };
    link.sub.add(
      this.#connect(entry, held).subscribe({
        next: (mux) => {
          link.conn = { id: held.conn, tunnelId: held.tunnel, mux, proxyName: `${held.proxy} via replica ${entry.id}`, remoteAddress: entry.advertise, connectedAt: this.#now(), via: entry.id };
          this.#failedAt.delete(key);
          log.debug('cluster hop open');
          this.changes$.next(held.tunnel);
          link.sub.add(mux.closed$.subscribe((info) => failed(`hop closed (${info.code}${info.reason ? `: ${info.reason}` : ''})`)));
        },
        error: (err: unknown) => failed(describeError(err)),
      }),
    );
  }

  /** Dials the holder's hop listener and proves the cluster secret; emits the ready multiplexer. */
  #connect(entry: ReplicaEntry, held: HeldConnection): Observable<Multiplexer> {
    const local = this.opts.local();
    const url = entry.advertise.replace(/^http/, 'ws') + hopPath(held.tunnel, held.conn);
    const maxPayload = 256 * 1024 + local.maxFrameSize + local.maxHeaderBytes + 4 * FRAME_HEADER_BYTES;
    return defer(() => dial({ url, caFile: null, maxPayload, openTimeoutMs: this.opts.handshakeTimeoutMs() }, trustedCas(null))).pipe(
      switchMap((socket) =>
        authenticate(socket.transport, {
          tunnelId: HOP_TUNNEL_ID,
          secret: this.opts.secret,
          local,
          timeoutMs: this.opts.handshakeTimeoutMs(),
          tlsExporter: null,
          proxy: { id: this.opts.replicaId, name: `replica ${this.opts.replicaId}`, software: SOFTWARE },
        }).pipe(map((session) => ({ socket, session }))),
      ),
      map(({ socket, session }) => new Multiplexer(socket.transport, { role: 'gateway', local, remote: session.remote, logger: this.opts.logger, heartbeatIntervalMs: this.opts.heartbeatIntervalMs() })),
    );
  }
}
