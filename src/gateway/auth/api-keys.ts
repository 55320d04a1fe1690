import { createHash, hash, timingSafeEqual } from 'node:crypto';
import type { GatewayConfig } from '../../config/types';
import type { ClientIdentity } from './identity';

interface KeyEntry {
  digest: Buffer;
  identity: ClientIdentity;
}

/**
 * API-key authentication. Keys are held only as SHA-256 digests (`apiKeySha256` as configured, or
 * the digest of a plain `apiKey`) and compared in constant time against every configured key, so
 * neither timing nor an early exit reveals a near match.
 */
export class ApiKeyAuthenticator {
  private readonly entries: KeyEntry[];

  constructor(clients: GatewayConfig['clients']) {
    this.entries = clients.map((c) => ({
      digest: c.apiKeySha256 !== undefined ? Buffer.from(c.apiKeySha256, 'hex') : createHash('sha256').update(c.apiKey ?? '', 'utf8').digest(),
      identity: { kind: 'apiKey', id: `apiKey:${c.name}`, name: c.name, servers: [...c.servers], scopes: [], claims: {} },
    }));
  }

  /** The client whose key is `token`, or null. Always compares against every key. */
  match(token: string): ClientIdentity | null {
    const given = hash('sha256', token, 'buffer');
    let found: ClientIdentity | null = null;
    for (const e of this.entries) {
      if (e.digest.length === given.length && timingSafeEqual(given, e.digest) && !found) found = e.identity;
    }
    return found;
  }
}

/** Names of clients configured with a plain `apiKey` (warned about at start-up and on reload). */
export function plainKeyClients(clients: GatewayConfig['clients']): string[] {
  return clients.filter((c) => c.apiKey !== undefined && c.apiKeySha256 === undefined).map((c) => c.name);
}
