import { TunnelError } from '../errors';

/** Stable codes of the gateway cluster (documented in docs/errors.md, "Gateway cluster"). */
export const CLUSTER_CODES = {
  /** Redis could not be reached or a command failed: the replica serves its local tunnels only (degraded). */
  redisUnavailable: 'TUNNEL_CLUSTER_REDIS_UNAVAILABLE',
  /** The internal-hop listener (`cluster.listen`) could not bind. */
  listenFailed: 'TUNNEL_CLUSTER_LISTEN_FAILED',
  /** An internal-hop upgrade named a tunnel connection this replica does not hold (it moved or closed). */
  hopUnknownConnection: 'TUNNEL_CLUSTER_HOP_UNKNOWN_CONNECTION',
  /** Dialling or authenticating the internal hop to another replica failed (wrong cluster secret, replica gone). */
  hopFailed: 'TUNNEL_CLUSTER_HOP_FAILED',
  /** A configuration change in Redis could not be opened with this replica's cluster secret (different secret, tampering). */
  configUnreadable: 'TUNNEL_CLUSTER_CONFIG_UNREADABLE',
} as const;

export type ClusterCode = (typeof CLUSTER_CODES)[keyof typeof CLUSTER_CODES];

/** An error of the cluster component; `code` is one of {@link CLUSTER_CODES}. */
export class ClusterError extends TunnelError {
  constructor(code: ClusterCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, options);
    this.name = 'ClusterError';
  }
}
