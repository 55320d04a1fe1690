import { BehaviorSubject, type Observable } from '../rx';
import type { Cluster, Redis } from 'ioredis';
import { F, type Logger } from '../log';
import { parseClusterUrl, parseSentinelUrl } from '../config/redis-url';
import { ClusterChannelSubscriber, duplicateSubscriber, type Backoff, type ChannelSubscriber } from './channel-subscriber';
import { CLUSTER_CODES } from './errors';
import { CONFIG_CHANNEL, CONFIG_KEY, REPLICAS_KEY, attemptsKey, rateKey, slotKey, parseReplicaEntry, replicaKey, sessionKey, type ReplicaEntry, type SessionEntry } from './keys';

/** Whether the replica can talk to Redis now (`down`: degraded, local tunnels only). */
export type StoreHealth = 'ready' | 'down';

/**
 * What the cluster needs from Redis, and nothing more: the components depend on this interface,
 * and only {@link openRedisStore} loads ioredis (lazily, so a single gateway never does).
 * Every method rejects when Redis is unreachable; callers treat that as "degraded", never as fatal.
 */
export interface ClusterStore {
  readonly health$: Observable<StoreHealth>;
  /** Writes this replica's entry (TTL `ttlMs`) and its index row, and prunes expired rows. */
  publishPresence(entry: ReplicaEntry, ttlMs: number, now: number): Promise<void>;
  /** Every live replica's entry (this one included). */
  readPresence(now: number): Promise<ReplicaEntry[]>;
  removePresence(replicaId: string): Promise<void>;
  setSession(tunnelId: string, sessionId: string, entry: SessionEntry, ttlMs: number): Promise<void>;
  /** The session's place, its TTL refreshed (use keeps it alive); null when unknown. */
  touchSession(tunnelId: string, sessionId: string, ttlMs: number): Promise<SessionEntry | null>;
  deleteSession(tunnelId: string, sessionId: string): Promise<void>;
  /**
   * Takes up to `want` tokens from the cluster-wide bucket `key` (refilled at `ratePerSec` up to
   * `burst`, on Redis's clock): how many were granted and, when fewer than asked, the ms until enough.
   */
  takeTokens(key: string, ratePerSec: number, burst: number, want: number): Promise<{ granted: number; waitMs: number }>;
  /**
   * Sets this replica's lease of the concurrency key `key` (shared-slots.ts) to as many of `want`
   * slots as the others' live leases leave under `max`, never below `hold` (slots in use), expiring
   * after `ttlMs`; 0 removes it. Returns the lease now held and the other replicas' total.
   */
  leaseSlots(key: string, replicaId: string, hold: number, want: number, max: number, ttlMs: number): Promise<{ own: number; others: number }>;
  /**
   * Adds one failed handshake (unique `member`) to the window `key` (shared-failures.ts), keeps the
   * newest `cap` within `windowMs` (Redis's clock), and returns the age in ms of each kept failure,
   * oldest first.
   */
  recordFailure(key: string, member: string, windowMs: number, cap: number): Promise<number[]>;
  /** Stores the latest sealed configuration change and announces it to every replica. */
  publishConfig(sealed: string): Promise<void>;
  /** The latest sealed configuration change, or null. */
  readConfig(): Promise<string | null>;
  /** Calls `handler` with every announced change (also this replica's own); resubscribes after an outage. */
  onConfig(handler: (sealed: string) => void): void;
  close(): Promise<void>;
}

/**
 * The token bucket, atomically in Redis on Redis's own clock (no replica clock skew): refill, take
 * up to ARGV[3] whole tokens, expire the key once it would be full again. Returns {granted, waitMs}.
 */
const TAKE_TOKENS = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(h[1]) or burst
local ts = tonumber(h[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
local wait = 0
if granted < want then wait = math.ceil((1 - (tokens - math.floor(tokens))) / rate * 1000) end
return {granted, wait}
`;

/**
 * A failed-attempts window, atomically on Redis's clock: drop what left the window, add this failure,
 * keep the newest ARGV[3], expire the key with the window. ARGV: member, windowMs, cap. Returns the
 * ages (ms) of the kept failures, oldest first.
 */
const RECORD_FAILURE = `
local window = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(cap + 1))
redis.call('PEXPIRE', KEYS[1], window)
local s = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local ages = {}
for i = 2, #s, 2 do ages[#ages + 1] = now - tonumber(s[i]) end
return ages
`;

/**
 * A replica's lease of a concurrency key's slots, atomically on Redis's clock: sums the other
 * replicas' unexpired leases (dropping expired ones), sets this one's to min(want, max - others) but
 * at least `hold`, with its expiry. ARGV: replica, hold, want, max, ttlMs. Returns {lease, others}.
 */
const LEASE_SLOTS = `
local me = ARGV[1]
local hold = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HGETALL', KEYS[1])
local others = 0
for i = 1, #h, 2 do
  if h[i] ~= me then
    local c, exp = string.match(h[i + 1], '^(%d+):(%d+)$')
    if c and tonumber(exp) > now then others = others + tonumber(c) else redis.call('HDEL', KEYS[1], h[i]) end
  end
end
local own = math.max(hold, math.min(want, max - others))
if own <= 0 then
  redis.call('HDEL', KEYS[1], me)
  return {0, others}
end
redis.call('HSET', KEYS[1], me, own .. ':' .. (now + ttl))
redis.call('PEXPIRE', KEYS[1], ttl)
return {own, others}
`;

/** A single Redis (or Sentinel-managed primary) or a Redis Cluster: the commands used here exist on both. */
type Client = Redis | Cluster;

/**
 * Connects to `url` with ioredis. Commands fail at once while disconnected (no offline queue: a
 * request must never wait for Redis), and the client reconnects in the background with a capped
 * backoff; {@link ClusterStore.health$} follows the connection.
 */
export async function openRedisStore(url: string, logger: Logger): Promise<ClusterStore> {
  const { redis, subscriber } = await newClient(url);
  const health$ = new BehaviorSubject<StoreHealth>('down');
  redis.on('ready', () => {
    if (health$.value !== 'ready') logger.info('cluster: Redis connected');
    health$.next('ready');
  });
  redis.on('error', (err: Error) => {
    // ioredis emits on every failed reconnect: log the transition, not each attempt.
    if (health$.value === 'ready') logger.warn({ [F.code]: CLUSTER_CODES.redisUnavailable, [F.reason]: err.message }, 'cluster: Redis unreachable; serving local tunnels only');
  });
  redis.on('close', () => {
    if (health$.value === 'ready') logger.warn({ [F.code]: CLUSTER_CODES.redisUnavailable }, 'cluster: Redis connection closed; serving local tunnels only');
    health$.next('down');
  });
  // The first connection may fail: the replica starts degraded and ioredis keeps trying.
  await redis.connect().catch((err: unknown) => logger.warn({ [F.code]: CLUSTER_CODES.redisUnavailable, [F.reason]: (err as Error).message }, 'cluster: Redis not reachable at start; serving local tunnels only'));
  return redisStore(redis, subscriber, health$);
}

/** The store's reconnect backoff: 200 ms doubling to 2 s. */
const retry: Backoff = (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000);

/**
 * The ioredis client for `url`, loaded lazily: `redis://`/`rediss://` unchanged, Sentinel and Redis
 * Cluster through ioredis's own support (`src/config/redis-url.ts` only turns our URL form into its
 * options), and the pub/sub connection for configuration changes (its own: channel-subscriber.ts).
 */
async function newClient(url: string): Promise<{ redis: Client; subscriber: ChannelSubscriber }> {
  const { Redis: RedisClient, Cluster: ClusterClient } = await import('ioredis');
  const perNode = { maxRetriesPerRequest: 1, connectTimeout: 2000 };
  const cluster = parseClusterUrl(url);
  if (cluster) {
    const { nodes, username, password, tls } = cluster;
    const redisOptions = { ...perNode, username, password, ...(tls ? { tls: {} } : {}) };
    // Redirections (MOVED/ASK) and slot-map refreshes are ioredis's; a whole-cluster outage is degraded mode.
    const redis = new ClusterClient(nodes, { enableOfflineQueue: false, lazyConnect: true, clusterRetryStrategy: retry, redisOptions });
    return { redis, subscriber: new ClusterChannelSubscriber(redis, nodes, redisOptions, CONFIG_CHANNEL, retry, RedisClient) };
  }
  const common = { ...perNode, enableOfflineQueue: false, retryStrategy: retry, lazyConnect: true };
  const sentinel = parseSentinelUrl(url);
  // Sentinel: ioredis asks the sentinels for the primary and follows its failovers.
  const redis = sentinel ? new RedisClient({ ...common, ...sentinel }) : new RedisClient(url, common);
  return { redis, subscriber: duplicateSubscriber(redis, CONFIG_CHANNEL) };
}

function redisStore(redis: Client, subscriber: ChannelSubscriber, health$: BehaviorSubject<StoreHealth>): ClusterStore {
  return {
    health$: health$.asObservable(),
    async publishPresence(entry, ttlMs, now) {
      await redis
        .multi()
        .set(replicaKey(entry.id), JSON.stringify(entry), 'PX', ttlMs)
        .zadd(REPLICAS_KEY, now + ttlMs, entry.id)
        .zremrangebyscore(REPLICAS_KEY, '-inf', now)
        .exec();
    },
    async readPresence(now) {
      const ids = await redis.zrangebyscore(REPLICAS_KEY, now, '+inf');
      if (ids.length === 0) return [];
      const texts = await redis.mget(...ids.map(replicaKey));
      return texts.map(parseReplicaEntry).filter((e): e is ReplicaEntry => e !== null);
    },
    async removePresence(replicaId) {
      await redis.multi().del(replicaKey(replicaId)).zrem(REPLICAS_KEY, replicaId).exec();
    },
    async setSession(tunnelId, sessionId, entry, ttlMs) {
      await redis.set(sessionKey(tunnelId, sessionId), JSON.stringify(entry), 'PX', ttlMs);
    },
    async touchSession(tunnelId, sessionId, ttlMs) {
      const text = await redis.getex(sessionKey(tunnelId, sessionId), 'PX', ttlMs);
      if (text === null) return null;
      try {
        const v = JSON.parse(text) as Partial<SessionEntry>;
        return typeof v.replica === 'string' && typeof v.conn === 'string' ? { replica: v.replica, conn: v.conn } : null;
      } catch {
        return null;
      }
    },
    async deleteSession(tunnelId, sessionId) {
      await redis.del(sessionKey(tunnelId, sessionId));
    },
    async takeTokens(key, ratePerSec, burst, want) {
      const out = (await redis.eval(TAKE_TOKENS, 1, rateKey(key), ratePerSec, burst, want)) as [number, number];
      return { granted: Number(out[0]), waitMs: Number(out[1]) };
    },
    async leaseSlots(key, replicaId, hold, want, max, ttlMs) {
      const out = (await redis.eval(LEASE_SLOTS, 1, slotKey(key), replicaId, hold, want, max, ttlMs)) as [number, number];
      return { own: Number(out[0]), others: Number(out[1]) };
    },
    async recordFailure(key, member, windowMs, cap) {
      const ages = (await redis.eval(RECORD_FAILURE, 1, attemptsKey(key), member, windowMs, cap)) as Array<number | string>;
      return ages.map(Number);
    },
    async publishConfig(sealed) {
      await redis.multi().set(CONFIG_KEY, sealed).publish(CONFIG_CHANNEL, sealed).exec();
    },
    readConfig() {
      return redis.get(CONFIG_KEY);
    },
    onConfig(handler) {
      subscriber.listen(handler);
    },
    async close() {
      health$.complete();
      await subscriber.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
