import type * as Prom from './prom';
import type { Metrics } from './metrics';
import type { ClusterStatus } from './status-report';

/**
 * The cluster's gauges (docs/operations.md, docs/cluster.md "Failure behaviour"), read from
 * `clusterSnapshot()` at scrape time. Registered only for a replica of a cluster: a single gateway
 * exports no `mcp_tunnel_cluster_*` series. Returns the teardown.
 */
export function meterCluster(metrics: Metrics, snapshot: () => ClusterStatus | null): () => void {
  // prom-client by require: this module is imported by the gateway whether or not an ops listener
  // runs, and prom-client loads only with one (decisions.md D34).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: only with metrics
  const { Gauge } = require('./prom') as typeof Prom;
  const registers = [metrics.registry];
  const up = new Gauge({ name: 'mcp_tunnel_cluster_redis_up', help: 'Whether this replica reaches Redis (1) or runs degraded on its local tunnels only (0).', registers });
  const seen = new Gauge({ name: 'mcp_tunnel_cluster_replicas', help: 'Live gateway replicas this replica sees through Redis, itself included (1 while degraded).', registers });
  const remove = metrics.beforeScrape(() => {
    const c = snapshot();
    up.set(c?.redis === 'ok' ? 1 : 0);
    seen.set(c?.replicas.length ?? 0);
  });
  return () => {
    remove();
    metrics.registry.removeSingleMetric('mcp_tunnel_cluster_redis_up');
    metrics.registry.removeSingleMetric('mcp_tunnel_cluster_replicas');
  };
}
