import type convict from 'convict';
import { ENV_PREFIX } from './constants';
import { ConfigError } from './errors';
import { checkReadableFile } from './loader';
import { parseClusterUrl, parseSentinelUrl } from './redis-url';
import type { ClusterConfig } from './types';

/** `cluster` as convict holds it: every key optional until `redis` is set. */
export interface RawCluster {
  redis: string | null;
  advertise: string | null;
  listen: string | null;
  secretFile: string | null;
}

/** The `cluster` keys (docs/cluster.md). Without `cluster.redis` the gateway runs alone, as before. */
export function clusterSchema(): convict.Schema<RawCluster> {
  return {
    redis: {
      doc: 'Redis shared by the gateway replicas of one cluster, redis://[user:pass@]HOST:PORT/DB, rediss://..., redis-sentinel://[user:pass@]HOST:PORT[,HOST:PORT...]/MASTER[/DB] or redis-cluster://[user:pass@]HOST:PORT[,HOST:PORT...] (rediss-cluster:// for TLS) (docs/cluster.md). Unset: a single gateway, no Redis needed.',
      format: 'mcp-tunnel-optional-string',
      default: null,
      env: `${ENV_PREFIX}CLUSTER_REDIS`,
      sensitive: true,
    },
    advertise: {
      doc: 'Address other replicas use for the internal hop to this one, http(s)://HOST:PORT (reaches cluster.listen). Required with cluster.redis.',
      format: 'mcp-tunnel-optional-url',
      default: null,
      env: `${ENV_PREFIX}CLUSTER_ADVERTISE`,
    },
    listen: {
      doc: 'Where this replica accepts the internal hop from other replicas, HOST:PORT with an IP literal or localhost. Required with cluster.redis.',
      format: 'mcp-tunnel-ops-listen',
      default: null,
      env: `${ENV_PREFIX}CLUSTER_LISTEN`,
    },
    secretFile: {
      doc: 'File holding the cluster secret that replicas prove to each other on the internal hop (same file content on every replica). Required with cluster.redis.',
      format: 'mcp-tunnel-optional-path',
      default: null,
      env: `${ENV_PREFIX}CLUSTER_SECRET_FILE`,
    },
  };
}

/**
 * Null without `cluster.redis`; otherwise every key must be set: a half-configured cluster is an
 * error at start-up rather than a replica that silently runs alone.
 * @throws ConfigError for a missing key, a non-redis URL or an unreadable secret file.
 */
export function resolveCluster(raw: RawCluster | undefined): ClusterConfig | null {
  if (!raw || raw.redis === null) {
    for (const key of ['advertise', 'listen', 'secretFile'] as const) {
      if (raw && raw[key] !== null) throw new ConfigError({ key: `cluster.${key}`, problem: 'needs cluster.redis (no cluster without Redis)' });
    }
    return null;
  }
  if (!/^(rediss?|redis-sentinel|rediss?-cluster):\/\//.test(raw.redis)) throw new ConfigError({ key: 'cluster.redis', problem: 'must be a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL' });
  try {
    parseSentinelUrl(raw.redis);
    parseClusterUrl(raw.redis);
  } catch (err) {
    throw new ConfigError({ key: 'cluster.redis', problem: (err as Error).message });
  }
  const { advertise, listen, secretFile } = raw;
  if (advertise === null) throw new ConfigError({ key: 'cluster.advertise', problem: 'must be set with cluster.redis' });
  if (listen === null) throw new ConfigError({ key: 'cluster.listen', problem: 'must be set with cluster.redis' });
  if (secretFile === null) throw new ConfigError({ key: 'cluster.secretFile', problem: 'must be set with cluster.redis' });
  checkReadableFile('cluster.secretFile', secretFile);
  return { redis: raw.redis, advertise: advertise.replace(/\/+$/, ''), listen, secretFile };
}
