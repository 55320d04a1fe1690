import { randomBytes } from 'node:crypto';
import { Subscription } from '../rx';
import type { ClusterConfig, GatewayConfig } from '../config/types';
import { readSecretFile } from '../config/secret-file';
import type { ClientLimiter } from '../gateway/policy/limiter';
import type { TunnelAdmission } from '../gateway/tunnel-admission';
import type { TunnelSpreadHook } from '../gateway/tunnel-endpoint';
import type { RemoteConnections, TunnelRegistry } from '../gateway/tunnels';
import { TunnelSpread, moveDuplicate } from './spread';
import { SharedRates } from './shared-rates';
import { SharedSlots } from './shared-slots';
import { SharedFailures } from './shared-failures';
import { F, type Logger } from '../log';
import type { PeerSettings } from '../protocol';
import { ConfigSync } from './config-sync';
import { HopServer } from './hop-server';
import { SESSION_TTL_MS, type ReplicaEntry } from './keys';
import { PeerLinks } from './links';
import { Presence } from './presence';
import { openRedisStore, type ClusterStore } from './store';

export interface ClusterNodeDeps {
  registry: TunnelRegistry;
  /** The policy's limiter: its rate buckets become cluster-wide (shared-rates.ts). */
  limiter?: Pick<ClientLimiter, 'shareRates' | 'shareSlots'>;
  /** The tunnel endpoint's upgrade limits: their failed-attempts window becomes cluster-wide (shared-failures.ts). */
  admission?: Pick<TunnelAdmission, 'shareFailures'>;
  /** The tunnel endpoint: it names this replica to proxies and spreads their connections (spread.ts). */
  endpoint?: { spread: TunnelSpreadHook | null };
  local: () => PeerSettings;
  handshakeTimeoutMs: () => number;
  heartbeatIntervalMs: () => number;
  logger: Logger;
  /** The configuration the gateway serves with now. */
  config: () => GatewayConfig;
  /** Applies a configuration change received from another replica (the gateway's reload, not re-published). */
  applyConfig: (next: GatewayConfig) => void;
  /** Test seam: a store other than Redis. */
  store?: ClusterStore;
  refreshMs?: number;
  ttlMs?: number;
}

/** One replica as `clusterSnapshot()` reports it (docs/cluster.md, "Status JSON"). */
export interface ReplicaSnapshot {
  id: string;
  advertise: string;
  self: boolean;
  tunnels: Array<{ tunnel: string; conn: string; proxy: string; load: number }>;
}

/** What `mcp-tunnel status` shows of the cluster (docs/cluster.md, "Status JSON"). */
export interface ClusterSnapshot {
  replicaId: string;
  /** `degraded` while Redis is unreachable: local tunnels only. */
  redis: 'ok' | 'degraded';
  /** When presence was last read from Redis (ISO time), null if never. */
  syncedAt: string | null;
  replicas: ReplicaSnapshot[];
  /** Hops open from this replica to connections other replicas hold. */
  hops: number;
}

/**
 * This gateway as one replica of a cluster: publishes the tunnel connections it holds (presence),
 * serves the internal hop for them, opens hops to the ones other replicas hold, and shares MCP
 * session placement, all through Redis. Attaches itself to the registry as its
 * {@link RemoteConnections}; {@link close} detaches nothing (the gateway is stopping).
 */
export class ClusterNode implements RemoteConnections {
  readonly #subs = new Subscription();
  readonly #startedAt = Date.now();
  #secret: string;
  #sync: ConfigSync | null = null;
  #slots: SharedSlots | null = null;

  private constructor(
    readonly replicaId: string,
    private readonly config: ClusterConfig,
    private readonly deps: ClusterNodeDeps,
    private readonly store: ClusterStore,
    private readonly links: PeerLinks,
    private readonly hop: HopServer,
    readonly presence: Presence,
    secret: string,
  ) {
    this.#secret = secret;
  }

  /**
   * Reads the cluster secret, binds `cluster.listen`, connects to Redis (a Redis that is down at
   * start only means starting degraded) and starts publishing.
   * @throws ConfigError for an unreadable secret file; ClusterError TUNNEL_CLUSTER_LISTEN_FAILED.
   */
  static async start(config: ClusterConfig, deps: ClusterNodeDeps): Promise<ClusterNode> {
    const secret = readSecretFile(config.secretFile);
    const log = deps.logger;
    let node: ClusterNode | null = null;
    const secretNow = (): string => node?.secret ?? secret;
    const hop = await HopServer.start({ listen: config.listen, secret: secretNow, connection: (t, c) => deps.registry.connections(t).find((x) => x.id === c), usable: (t) => deps.registry.pickLocal(t), ...timing(deps), logger: log });
    const store = deps.store ?? (await openRedisStore(config.redis, log));
    const replicaId = randomBytes(6).toString('hex');
    const links = new PeerLinks({ replicaId, secret: secretNow, ...timing(deps), logger: log });
    let self: () => ReplicaEntry = () => ({ id: '', advertise: config.advertise, startedAt: 0, tunnels: [] });
    const presence = new Presence({ store, self: () => self(), logger: log, refreshMs: deps.refreshMs, ttlMs: deps.ttlMs });
    node = new ClusterNode(replicaId, config, deps, store, links, hop, presence, secret);
    const n = node;
    self = () => n.#entry();
    n.#wire();
    log.info({ [F.replica]: n.replicaId, advertise: config.advertise, listen: config.listen }, 'cluster: replica started');
    return n;
  }

  get secret(): string {
    return this.#secret;
  }

  /** Re-reads the cluster secret file (reload); a bad file keeps the current secret. */
  reloadSecret(): void {
    try {
      this.#secret = readSecretFile(this.config.secretFile);
    } catch (err) {
      this.deps.logger.warn({ [F.reason]: (err as Error).message }, 'cluster: secret file not reloaded; keeping the current secret');
    }
  }

  /** A reload was applied on this replica: every other replica applies its shared part too. */
  publishConfig(config: GatewayConfig): Promise<void> {
    return this.#sync?.publish(config) ?? Promise.resolve();
  }

  pick(tunnelId: string, preferConn: string | undefined): ReturnType<RemoteConnections['pick']> {
    return this.links.pick(tunnelId, preferConn);
  }

  async sessionConnection(tunnelId: string, sessionKey: string): Promise<string | undefined> {
    const entry = await this.store.touchSession(tunnelId, sessionKey, SESSION_TTL_MS).catch(() => null);
    return entry?.conn;
  }

  /** The cluster as this replica sees it (docs/cluster.md, "Status JSON"). */
  clusterSnapshot(): ClusterSnapshot {
    const view = this.presence.view$.value;
    const me = this.#entry();
    const row = (e: ReplicaEntry, self: boolean): ReplicaSnapshot => ({ id: e.id, advertise: e.advertise, self, tunnels: e.tunnels.map((t) => ({ ...t })) });
    return {
      replicaId: this.replicaId,
      redis: view.degraded ? 'degraded' : 'ok',
      syncedAt: view.readAt === 0 ? null : new Date(view.readAt).toISOString(),
      replicas: [row(me, true), ...[...view.peers.values()].map((e) => row(e, false))].sort((a, b) => a.id.localeCompare(b.id)),
      hops: this.links.all().length,
    };
  }

  async close(): Promise<void> {
    this.#subs.unsubscribe();
    this.#sync?.close();
    this.#slots?.close();
    this.deps.limiter?.shareSlots(null);
    this.deps.admission?.shareFailures(null);
    this.links.close();
    await this.presence.close();
    await this.hop.close();
    await this.store.close();
  }

  #entry(): ReplicaEntry {
    const tunnels = this.deps.registry
      .all()
      .filter((c) => c.mux.canOpenStream)
      .map((c) => ({ tunnel: c.tunnelId, conn: c.id, proxy: c.proxyName, load: c.mux.activeStreams }));
    return { id: this.replicaId, advertise: this.config.advertise, startedAt: this.#startedAt, tunnels };
  }

  #wire(): void {
    const { registry } = this.deps;
    registry.attachRemote(this);
    if (this.deps.endpoint) this.deps.endpoint.spread = new TunnelSpread(this.replicaId, () => this.presence.view$.value.peers.keys());
    const degraded = (): boolean => this.presence.view$.value.degraded;
    this.deps.limiter?.shareRates(new SharedRates(this.store, degraded));
    this.#slots = new SharedSlots(this.store, this.replicaId, degraded);
    this.deps.limiter?.shareSlots(this.#slots);
    this.deps.admission?.shareFailures(new SharedFailures(this.store, this.replicaId, degraded));
    const { config, applyConfig, logger } = this.deps;
    this.#sync = new ConfigSync({ replicaId: this.replicaId, store: this.store, secret: () => this.#secret, current: config, apply: applyConfig, logger });
    // Degraded (Redis unreachable): keep the hops that are open (each closes with its tunnel
    // connection, so none goes stale) but open no new one until presence is read again.
    this.#subs.add(
      this.presence.view$.subscribe((v) => {
        if (v.degraded) return;
        this.links.reconcile(v.peers);
        const moved = moveDuplicate(registry.all(), v.peers.size, Date.now());
        if (moved) this.hop.drainHopsOf(moved.id, 'tunnel connection moving to another replica');
        if (moved) this.deps.logger.info({ [F.tunnel]: moved.tunnelId, [F.connection]: moved.id, proxy: moved.proxyName }, 'cluster: asked a proxy to move a second connection to another replica');
      }),
    );
    this.#subs.add(this.links.changes$.subscribe((t) => registry.notify(t)));
    const place = (conn: string): string => (registry.all().some((c) => c.id === conn) ? this.replicaId : (this.links.replicaOf(conn) ?? 'unknown'));
    registry.sessions.listen({
      bound: (t, s, conn) => void this.store.setSession(t, s, { replica: place(conn), conn }, SESSION_TTL_MS).catch(() => undefined),
      ended: (t, s) => void this.store.deleteSession(t, s).catch(() => undefined),
    });
  }
}

function timing(d: ClusterNodeDeps): Pick<ClusterNodeDeps, 'local' | 'handshakeTimeoutMs' | 'heartbeatIntervalMs'> {
  return { local: d.local, handshakeTimeoutMs: d.handshakeTimeoutMs, heartbeatIntervalMs: d.heartbeatIntervalMs };
}
