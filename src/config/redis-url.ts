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
  const sentinels = m[3]!.split(',').map((hp) => {
    const at = hp.lastIndexOf(':');
    const port = Number(hp.slice(at + 1));
    if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`sentinel address "${hp}" is not HOST:PORT`);
    return { host: hp.slice(0, at).replace(/^\[|\]$/g, ''), port };
  });
  const target: SentinelTarget = { sentinels, name: decodeURIComponent(m[4]!), db: m[5] === undefined ? 0 : Number(m[5]) };
  if (m[1]) target.username = decodeURIComponent(m[1]);
  if (m[2] !== undefined) target.password = decodeURIComponent(m[2]);
  return target;
}
