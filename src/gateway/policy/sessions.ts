import { LegacyEndpoints } from '../legacy-endpoints';

/** Most session → owner entries kept; the least recently bound is forgotten first. */
export const MAX_SESSION_OWNERS = 100_000;

/**
 * Which client identity created each Streamable HTTP session (`Mcp-Session-Id`), per server, and
 * (in `endpoints`) the legacy HTTP+SSE message endpoints open per identity. Session ids are
 * bearer-like: whoever presents one acts in that session, so another identity presenting it is
 * answered as if the session did not exist.
 *
 * Bounded like the tunnel registry's affinity map: beyond `max` entries the oldest is forgotten,
 * and a forgotten (or never seen, e.g. created before a gateway restart) session is not checked.
 */
export class SessionOwners {
  readonly #owners = new Map<string, string>();
  /** Legacy message endpoints announced on open GET streams (owner = the identity that opened the stream). */
  readonly endpoints: LegacyEndpoints;

  constructor(
    private readonly max = MAX_SESSION_OWNERS,
    endpoints?: LegacyEndpoints,
  ) {
    this.endpoints = endpoints ?? new LegacyEndpoints();
  }

  get size(): number {
    return this.#owners.size;
  }

  /** Records `owner` for the session unless it already has one (the creator keeps it). */
  bind(server: string, sessionId: string, owner: string): void {
    const k = `${server}\0${sessionId}`;
    if (this.#owners.has(k)) return;
    this.#owners.set(k, owner);
    while (this.#owners.size > this.max) {
      const oldest = this.#owners.keys().next().value;
      if (oldest === undefined) break;
      this.#owners.delete(oldest);
    }
  }

  /** Forgets a session (after a successful DELETE). */
  unbind(server: string, sessionId: string): void {
    this.#owners.delete(`${server}\0${sessionId}`);
  }

  /** The owner, or null when the session is unknown to the gateway. */
  ownerOf(server: string, sessionId: string): string | null {
    return this.#owners.get(`${server}\0${sessionId}`) ?? null;
  }
}
