/**
 * Gateway cluster (docs/cluster.md): replicas share tunnel presence, MCP session placement and an
 * internal hop through Redis. Loaded only when `cluster.redis` is set.
 */
import type { ClusterConfig, GatewayConfig } from '../config/types';
import type { LiveConfig } from '../gateway/live-config';
import type { ClientLimiter } from '../gateway/policy/limiter';
import type { TunnelAdmission } from '../gateway/tunnel-admission';
import type { TunnelEndpoint } from '../gateway/tunnel-endpoint';
import type { TunnelRegistry } from '../gateway/tunnels';
import { componentLogger, type Logger } from '../log';
import { ClusterNode } from './node';

export { ClusterNode, type ClusterSnapshot, type ReplicaSnapshot, type ClusterNodeDeps } from './node';
export { REPLICA_HEADER, AVOID_HEADER, avoidedReplicas } from './spread';
export { CLUSTER_CODES, ClusterError, type ClusterCode } from './errors';
export { type ClusterStore, type StoreHealth, openRedisStore } from './store';

/** Starts this gateway's replica of the cluster with the gateway's live limits and timings. */
export function startClusterNode(
  config: ClusterConfig,
  gateway: { live: LiveConfig; registry: TunnelRegistry; limiter: ClientLimiter; endpoint: TunnelEndpoint; admission: TunnelAdmission },
  rootLogger: Logger,
  applyConfig: (next: GatewayConfig) => void,
): Promise<ClusterNode> {
  const { live, registry, limiter, endpoint, admission } = gateway;
  return ClusterNode.start(config, {
    registry,
    limiter,
    endpoint,
    admission,
    local: () => live.localSettings(),
    handshakeTimeoutMs: () => live.config.limits.handshakeTimeoutMs,
    heartbeatIntervalMs: () => live.config.heartbeat.intervalMs,
    logger: componentLogger(rootLogger, 'cluster'),
    config: () => live.config,
    applyConfig,
  });
}
