import { Agent, Pool, type buildConnector } from './undici';
import type { ProxyConfig, UpstreamTlsConfig } from '../config/types';
import { F, type Logger } from '../log';
import { settledWithin } from '../time';
import { TlsFailureTracker, createConnector, type EgressGuard } from './connector';
import { loadTlsOptions, tlsConfigKey } from './tls';

/** Default of `upstream.streamConnectionsPerOrigin`, for configurations built in code. */
export const DEFAULT_STREAM_CONNECTIONS_PER_ORIGIN = 16_384;

/** Which pool a request uses: GET opens a long-lived stream; every other method is a request. */
type PoolKind = 'requests' | 'streams';

interface AgentEntry {
  agent: Agent;
  /**
   * The agent's per-origin pools. `Agent.close()` forgets its pools at once, so a later
   * `Agent.destroy()` would not reach requests still in flight; we destroy the pools ourselves.
   */
  pools: Set<Pool>;
  /** `"*"` for the global TLS config, else the first server that uses this config. */
  scope: string;
}

/** The two agents of one TLS configuration. */
interface AgentPair {
  requests: Agent;
  streams: Agent;
}

/**
 * The undici agents of the upstream dispatcher, and their shutdown.
 *
 * Two `Agent`s per distinct TLS configuration (the global `cfg.tls`, and each distinct per-server
 * override): one for requests, pooling up to `cfg.connectionsPerOrigin` keep-alive connections per
 * origin, and one for GET streams (standalone and legacy SSE streams), up to
 * `cfg.streamConnectionsPerOrigin`. A GET stream holds its connection for its whole life; in the
 * request pool, a client's idle streams would take every connection and make all other requests to
 * that origin wait (docs/decisions.md D20). The two agents of a TLS configuration share one connector,
 * so its PEM files are read once, here, when the agents are built.
 *
 * Timeouts: `cfg.headersTimeoutMs` for the response head (0 = none), `cfg.connectTimeoutMs` for TCP
 * plus TLS handshake, and none at all for bodies: a live SSE stream may be silent for hours.
 */
export class UpstreamAgents {
  /** TLS alerts seen on the agents' sockets, for the classifier (see {@link TlsFailureTracker}). */
  readonly tracker = new TlsFailureTracker();
  private readonly entries = new Map<string, AgentEntry>();
  private readonly connectors = new Map<string, buildConnector.connector>();
  private readonly cfg: ProxyConfig['upstream'];
  private readonly log: Logger;
  private readonly egress: EgressGuard;
  private readonly global: AgentPair;
  private readonly byServer = new Map<string, AgentPair>();

  /** @throws UpstreamError `TUNNEL_UPSTREAM_TLS_CONFIG` when TLS material cannot be loaded. */
  constructor(cfg: ProxyConfig['upstream'], log: Logger, egress: EgressGuard) {
    this.cfg = cfg;
    this.log = log;
    this.egress = egress;
    this.global = this.pairFor(cfg.tls, '*');
    for (const [name, server] of Object.entries(cfg.servers)) this.byServer.set(name, this.pairFor(server.tls, name));
    log.debug({ agents: this.entries.size, servers: this.byServer.size }, 'upstream dispatcher ready');
  }

  /** The agent for a request to `server`: GET streams get the stream agent, the rest the request agent. */
  agentFor(server: string, method: string): Agent {
    const pair = this.byServer.get(server) ?? this.global;
    return method === 'GET' ? pair.streams : pair.requests;
  }

  /**
   * Closes every agent: each gets `graceMs` to finish its requests in flight, then its pools are
   * destroyed (their requests and bodies fail with UND_ERR_DESTROYED -> TUNNEL_UPSTREAM_CLOSED).
   */
  async close(graceMs: number): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => this.closeAgent(entry, graceMs)));
    this.tracker.clear();
  }

  private async closeAgent(entry: AgentEntry, graceMs: number): Promise<void> {
    if (await settledWithin(entry.agent.close(), graceMs)) return;
    this.log.info({ [F.server]: entry.scope, graceMs }, 'destroying upstream requests still in flight');
    await Promise.all([...entry.pools].map((pool) => pool.destroy()));
    await entry.agent.destroy();
  }

  private pairFor(tls: UpstreamTlsConfig, scope: string): AgentPair {
    return { requests: this.agentOf(tls, scope, 'requests'), streams: this.agentOf(tls, scope, 'streams') };
  }

  /** The agent of `kind` for this TLS configuration, built on first use. */
  private agentOf(tls: UpstreamTlsConfig, scope: string, kind: PoolKind): Agent {
    const tlsKey = tlsConfigKey(tls);
    const key = `${kind}\0${tlsKey}`;
    const existing = this.entries.get(key);
    if (existing !== undefined) return existing.agent;
    const pools = new Set<Pool>();
    const agent = new Agent({
      connections: this.limitOf(kind),
      headersTimeout: this.cfg.headersTimeoutMs,
      bodyTimeout: 0,
      connect: this.connectorFor(tls, tlsKey, scope),
      factory: (origin, opts) => {
        // The agent closes and drops a pool whose connections all went away; forget those too.
        for (const p of pools) if (p.destroyed) pools.delete(p);
        const pool = new Pool(origin, opts);
        pools.add(pool);
        return pool;
      },
    });
    if (!tls.rejectUnauthorized && kind === 'requests') {
      this.log.warn({ [F.server]: scope }, 'upstream TLS certificate verification is disabled');
    }
    this.entries.set(key, { agent, scope, pools });
    return agent;
  }

  /** One connector per TLS configuration, shared by its two agents: PEM files are read once. */
  private connectorFor(tls: UpstreamTlsConfig, tlsKey: string, scope: string): buildConnector.connector {
    let connect = this.connectors.get(tlsKey);
    if (connect === undefined) {
      connect = createConnector(loadTlsOptions(tls, scope), this.cfg.connectTimeoutMs, this.tracker, this.egress);
      this.connectors.set(tlsKey, connect);
    }
    return connect;
  }

  private limitOf(kind: PoolKind): number | null {
    const n =
      kind === 'requests'
        ? this.cfg.connectionsPerOrigin
        : (this.cfg.streamConnectionsPerOrigin ?? DEFAULT_STREAM_CONNECTIONS_PER_ORIGIN);
    // undici reads null as "unlimited"; a non-positive config value means the same.
    return n > 0 ? n : null;
  }
}
