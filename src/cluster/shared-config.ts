import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { GatewayConfig } from '../config/types';

/**
 * The parts of the gateway configuration a change to which must reach every replica: who may
 * connect (tunnels and their secrets), what is served (servers, clients, auth, policy) and the
 * limits. Per-replica settings (listen, tls, cluster, audit, ops, log) never travel.
 */
export const SHARED_KEYS = ['tunnels', 'servers', 'clients', 'auth', 'policy', 'limits', 'rotation', 'allowedHosts', 'allowedOrigins'] as const;

export type SharedConfig = Pick<GatewayConfig, (typeof SHARED_KEYS)[number]>;

/** One published change: who applied it and when (last writer wins, by `at`). */
export interface ConfigChange {
  from: string;
  at: number;
  shared: SharedConfig;
}

export function sharedPart(c: GatewayConfig): SharedConfig {
  const out: Record<string, unknown> = {};
  for (const k of SHARED_KEYS) if (c[k] !== undefined) out[k] = structuredClone(c[k]);
  return out as SharedConfig;
}

/** `base` with the shared part replaced by `shared` (the replica keeps its own listen, tls, cluster...). */
export function withShared(base: GatewayConfig, shared: SharedConfig): GatewayConfig {
  return { ...base, ...structuredClone(shared) };
}

const INFO = 'mcp-tunnel cluster config v1';

function keyOf(clusterSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', clusterSecret, Buffer.alloc(0), INFO, 32));
}

/**
 * Seals a change with AES-256-GCM under a key derived (HKDF) from the cluster secret: tunnel
 * secrets and API-key hashes travel through Redis, which must neither read nor forge them.
 * Output: base64url(iv ‖ tag ‖ ciphertext).
 */
export function sealChange(change: ConfigChange, clusterSecret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(clusterSecret), iv);
  cipher.setAAD(Buffer.from(INFO));
  const body = Buffer.concat([cipher.update(JSON.stringify(change), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** Opens a sealed change; null when it was not sealed with this cluster secret or is malformed. */
export function openChange(sealed: string, clusterSecret: string): ConfigChange | null {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keyOf(clusterSecret), raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(INFO));
    decipher.setAuthTag(raw.subarray(12, 28));
    const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    const v = JSON.parse(text) as Partial<ConfigChange>;
    if (typeof v.from !== 'string' || typeof v.at !== 'number' || typeof v.shared !== 'object' || v.shared === null) return null;
    return v as ConfigChange;
  } catch {
    return null;
  }
}
