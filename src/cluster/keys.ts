/**
 * Everything the cluster keeps in Redis, in one place (docs/cluster.md, "Keys and TTLs"). Values are
 * small JSON documents; no request byte is ever stored.
 */

/** Prefix of every key, so that a Redis shared with other software stays readable. */
export const KEY_PREFIX = 'mcpt:';

/**
 * Redis Cluster hash tag of the presence keys: the index and every replica entry are written in one
 * MULTI and read with one MGET (store.ts), which Redis Cluster allows only within one hash slot. The
 * other keys are each touched alone (one command or one single-key Lua script), so they carry no tag
 * and spread over the slots. (A `{` in a rule or client name inside those keys only picks their slot.)
 */
export const PRESENCE_TAG = '{presence}';

/** ZSET: replica id → expiry (ms since epoch); the index of the live replicas. */
export const REPLICAS_KEY = `${KEY_PREFIX}${PRESENCE_TAG}:replicas`;

/** STRING (JSON {@link ReplicaEntry}), with a TTL: what one replica holds. */
export function replicaKey(replicaId: string): string {
  return `${KEY_PREFIX}${PRESENCE_TAG}:replica:${replicaId}`;
}

/** STRING (JSON {@link SessionEntry}), with a TTL refreshed on use: where an MCP session lives. */
export function sessionKey(tunnelId: string, sessionId: string): string {
  return `${KEY_PREFIX}session:${tunnelId}:${sessionId}`;
}

/** STRING: the latest sealed shared-configuration change (shared-config.ts); no TTL. */
export const CONFIG_KEY = `${KEY_PREFIX}config`;
/** Pub/sub channel announcing each sealed configuration change. */
export const CONFIG_CHANNEL = `${KEY_PREFIX}config-changes`;

/** HASH {tokens, ts}: a cluster-wide token bucket (shared-rates.ts); expires once it would be full again. */
export function rateKey(limiterKey: string): string {
  return `${KEY_PREFIX}rate:${limiterKey}`;
}

/** HASH replica id → "count:expiresAtMs": each replica's lease of a concurrency key's slots (shared-slots.ts). */
export function slotKey(limiterKey: string): string {
  return `${KEY_PREFIX}slots:${limiterKey}`;
}

/** ZSET member → failure time (Redis clock, ms): failed tunnel handshakes of one (tunnel, source) in the last minute (shared-failures.ts). */
export function attemptsKey(failureKey: string): string {
  return `${KEY_PREFIX}attempts:${failureKey}`;
}

/** How often a replica rewrites its presence entry. */
export const PRESENCE_REFRESH_MS = 1000;
/** A replica that stopped refreshing disappears from every view after this. */
export const PRESENCE_TTL_MS = 5000;
/** Session → connection entries expire this long after their last use. */
export const SESSION_TTL_MS = 30 * 60 * 1000;

/** One tunnel connection a replica holds, with its load (streams in flight). */
export interface HeldConnection {
  tunnel: string;
  conn: string;
  proxy: string;
  load: number;
}

/** A replica's presence entry. */
export interface ReplicaEntry {
  id: string;
  /** http(s)://HOST:PORT of its internal-hop listener. */
  advertise: string;
  startedAt: number;
  tunnels: HeldConnection[];
}

/** Where an MCP session lives. */
export interface SessionEntry {
  replica: string;
  conn: string;
}

/** Parses a stored replica entry; null for anything malformed (another version, a stray key). */
export function parseReplicaEntry(text: string | null): ReplicaEntry | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<ReplicaEntry>;
    if (typeof v.id !== 'string' || typeof v.advertise !== 'string' || !Array.isArray(v.tunnels)) return null;
    const tunnels = v.tunnels.filter((t): t is HeldConnection => typeof t?.tunnel === 'string' && typeof t.conn === 'string' && typeof t.load === 'number');
    return { id: v.id, advertise: v.advertise, startedAt: typeof v.startedAt === 'number' ? v.startedAt : 0, tunnels };
  } catch {
    return null;
  }
}
