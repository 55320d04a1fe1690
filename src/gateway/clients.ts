import { createHash, timingSafeEqual } from 'node:crypto';
import type { GatewayConfig } from '../config/types';

export interface ClientIdentity {
  name: string;
  /** Server names the client may call; '*' allows all. */
  servers: readonly string[];
}

interface KeyEntry {
  digest: Buffer;
  identity: ClientIdentity;
}

/**
 * API-key authentication of MCP clients. Keys are held as SHA-256 digests and compared in constant
 * time against every configured key, so neither timing nor an early exit reveals a near match.
 */
export class ClientAuthenticator {
  private readonly entries: KeyEntry[];

  constructor(clients: GatewayConfig['clients']) {
    this.entries = clients.map((c) => ({
      digest: createHash('sha256').update(c.apiKey, 'utf8').digest(),
      identity: { name: c.name, servers: [...c.servers] },
    }));
  }

  /** The client for an `Authorization` header value, or null. */
  authenticate(authorization: string | undefined): ClientIdentity | null {
    if (!authorization) return null;
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (!m?.[1]) return null;
    const given = createHash('sha256').update(m[1], 'utf8').digest();
    let found: ClientIdentity | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(given, e.digest) && !found) found = e.identity;
    }
    return found;
  }
}

export function clientMayUse(client: ClientIdentity, server: string): boolean {
  return client.servers.includes('*') || client.servers.includes(server);
}
