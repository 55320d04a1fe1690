/** Who is calling: the result of client authentication, consumed by authorization and policy. */
export interface ClientIdentity {
  /** How the client authenticated. */
  kind: 'apiKey' | 'jwt';
  /**
   * Stable key of the identity, unique across kinds: `apiKey:<name>` or `jwt:<issuer>#<name>`
   * (an API client and a token subject with the same name are different identities).
   */
  id: string;
  /** The client's name: `clients[].name`, or the JWT's `auth.jwt.clientClaim` (default `sub`). */
  name: string;
  /** Server names the client may call (already expanded; never `"*"`). */
  servers: readonly string[];
  /** OAuth scopes of a JWT (`auth.jwt.scopeClaim`); empty for API keys. */
  scopes: readonly string[];
  /** The JWT's verified claims; empty for API keys. */
  claims: Readonly<Record<string, unknown>>;
}

/** Whether `client` may call `server` (`"*"` is accepted for identities built in code). */
export function clientMayUse(client: Pick<ClientIdentity, 'servers'>, server: string): boolean {
  return client.servers.includes('*') || client.servers.includes(server);
}
