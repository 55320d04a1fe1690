/** ioredis options for a Sentinel-managed Redis (ioredis finds the primary and follows failovers). */
export interface SentinelTarget {
  sentinels: Array<{ host: string; port: number }>;
  name: string;
  db: number;
  username?: string;
  password?: string;
}

/**
 * `redis-sentinel://[user:pass@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]` as ioredis options; null for
 * any other URL (`redis://`, `rediss://` go to ioredis unchanged). The URL form is ours (ioredis takes
 * Sentinel only as options); what to do with them is ioredis's own Sentinel support.
 * @throws Error naming what is wrong (the loader reports it as `cluster.redis`).
 */
export function parseSentinelUrl(url: string): SentinelTarget | null {
  const m = /^redis-sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)\/([^/]+)(?:\/(\d+))?$/.exec(url);
  if (!url.startsWith('redis-sentinel:')) return null;
  if (!m) throw new Error('must be redis-sentinel://[user:pass@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]');
  const target: SentinelTarget = { sentinels: hostPorts(m[3]!, 'sentinel'), name: decodeURIComponent(m[4]!), db: m[5] === undefined ? 0 : Number(m[5]) };
  if (m[1]) target.username = decodeURIComponent(m[1]);
  if (m[2] !== undefined) target.password = decodeURIComponent(m[2]);
  return target;
}

/** ioredis `Redis.Cluster` arguments for a Redis Cluster (ioredis discovers the shards and follows resharding and failovers). */
export interface ClusterTarget {
  /** Seed nodes: any reachable one tells ioredis the whole slot map. */
  nodes: Array<{ host: string; port: number }>;
  username?: string;
  password?: string;
  /** `rediss-cluster://`: TLS to every node (server name = the node's host). */
  tls: boolean;
}

/**
 * `redis-cluster://[user:pass@]HOST:PORT[,HOST:PORT...][/]` (or `rediss-cluster://` for TLS) as
 * ioredis Cluster arguments; null for any other URL. Same URL shape as the Sentinel form, without a
 * master name or DB (Redis Cluster has only DB 0). What to do with them is ioredis's own Cluster support.
 * @throws Error naming what is wrong (the loader reports it as `cluster.redis`).
 */
export function parseClusterUrl(url: string): ClusterTarget | null {
  const scheme = /^(rediss?)-cluster:/.exec(url);
  if (!scheme) return null;
  const m = /^rediss?-cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+)\/?$/.exec(url);
  if (!m) throw new Error('must be redis-cluster://[user:pass@]HOST:PORT[,HOST:PORT...] (no DB: Redis Cluster has only DB 0)');
  const target: ClusterTarget = { nodes: hostPorts(m[3]!, 'cluster node'), tls: scheme[1] === 'rediss' };
  if (m[1]) target.username = decodeURIComponent(m[1]);
  if (m[2] !== undefined) target.password = decodeURIComponent(m[2]);
  return target;
}

/** `HOST:PORT[,HOST:PORT...]` (an IPv6 host in brackets) as a list. */
function hostPorts(list: string, what: string): Array<{ host: string; port: number }> {
  return list.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    const port = Number(hp.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what} address "${hp}" is not HOST:PORT`);
    return { host: hp.slice(0, at).replace(/^\[|\]$/g, ''), port };
  });
}
