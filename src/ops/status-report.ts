/**
 * What the gateway's ops listener answers at `GET /status` and `mcp-tunnel status` prints: the
 * replica itself and, per configured tunnel, its connected proxies. The shape is an object with
 * named parts (`replica`, `tunnels`, `cluster`) so that later parts can be added beside them
 * without breaking readers.
 */

/**
 * The cluster as one replica sees it (docs/cluster.md "Status JSON"): the shape of
 * `RunningGateway.clusterSnapshot()`, restated here so that the ops code never loads src/cluster.
 */
export interface ClusterStatus {
  replicaId: string;
  /** `degraded` while this replica cannot reach Redis (it serves its local tunnels only). */
  redis: 'ok' | 'degraded';
  syncedAt: string | null;
  replicas: Array<{
    id: string;
    advertise: string;
    self: boolean;
    tunnels: Array<{ tunnel: string; conn: string; proxy: string; load: number }>;
  }>;
  hops: number;
}

/** One authenticated proxy connection as the gateway sees it now. */
export interface ConnectionSnapshot {
  /** Connection id (the `conn` of log lines on both sides). */
  id: string;
  tunnelId: string;
  /** The name the proxy announced (`MCP_TUNNEL_NAME`). */
  proxyName: string;
  /** The proxy's source address as this gateway sees it (a load balancer's, behind one). */
  remoteAddress: string;
  /** Epoch milliseconds of authentication. */
  connectedAt: number;
  /** Requests (streams) in flight on the connection. */
  streams: number;
  /** GOAWAY sent or received: takes no new requests. */
  draining: boolean;
  /**
   * Position in `tunnels[].secrets` of the secret the connection last proved it holds; null when
   * that secret is no longer listed (rotation). Never the secret or anything derived from it.
   */
  secretIndex: number | null;
}

/** What a running gateway reports about itself (RunningGateway.snapshot). */
export interface GatewaySnapshot {
  /** Configured tunnel ids, in config order. */
  tunnels: readonly string[];
  connections: readonly ConnectionSnapshot[];
  /** MCP requests being forwarded now. */
  inFlight: number;
}

/** `GET /status` body. */
export interface StatusReport {
  replica: {
    role: 'gateway';
    version: string;
    pid: number;
    /** ISO time the process started. */
    startedAt: string;
    uptimeSeconds: number;
    /** MCP requests being forwarded now. */
    inFlight: number;
  };
  tunnels: Array<{
    id: string;
    /** At least one connection takes new requests. */
    ready: boolean;
    connections: Array<{
      id: string;
      proxy: string;
      remoteAddress: string;
      connectedAt: string;
      ageSeconds: number;
      /** `"0"`, `"1"`, … (position in `tunnels[].secrets`), or null when revoked. */
      secretId: string | null;
      streams: number;
      state: 'authenticated' | 'draining';
    }>;
  }>;
  /** Cluster replicas and the tunnels each holds; null for a single gateway (no `cluster.redis`). */
  cluster: ClusterStatus | null;
}

/** Builds the `/status` body from a snapshot; `now` in epoch ms; `cluster` null for a single gateway. */
export function statusReport(snap: GatewaySnapshot, facts: { version: string; pid: number; startedAt: number; now: number }, cluster: ClusterStatus | null = null): StatusReport {
  const byTunnel = new Map<string, StatusReport['tunnels'][number]>();
  for (const id of snap.tunnels) byTunnel.set(id, { id, ready: false, connections: [] });
  for (const c of snap.connections) {
    let t = byTunnel.get(c.tunnelId);
    // A tunnel removed by a reload keeps its live connections until they close: still shown.
    if (t === undefined) byTunnel.set(c.tunnelId, (t = { id: c.tunnelId, ready: false, connections: [] }));
    if (!c.draining) t.ready = true;
    t.connections.push({
      id: c.id,
      proxy: c.proxyName,
      remoteAddress: c.remoteAddress,
      connectedAt: new Date(c.connectedAt).toISOString(),
      ageSeconds: Math.max(0, Math.round((facts.now - c.connectedAt) / 1000)),
      secretId: c.secretIndex === null ? null : String(c.secretIndex),
      streams: c.streams,
      state: c.draining ? 'draining' : 'authenticated',
    });
  }
  return {
    replica: {
      role: 'gateway',
      version: facts.version,
      pid: facts.pid,
      startedAt: new Date(facts.startedAt).toISOString(),
      uptimeSeconds: Math.max(0, Math.round((facts.now - facts.startedAt) / 1000)),
      inFlight: snap.inFlight,
    },
    tunnels: [...byTunnel.values()],
    cluster,
  };
}
