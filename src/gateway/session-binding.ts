import { LegacyEndpoints, type Announcement, type LegacyEndpoint } from './legacy-endpoints';

/** Most session → owner entries kept; the least recently bound is forgotten first. */
export const MAX_SESSION_OWNERS = 100_000;
/** Most session → connection entries kept; the least recently bound is forgotten first. */
export const MAX_SESSION_CONNECTIONS = 100_000;

/** Where one response or announcement happened: which server, tunnel connection and identity. */
export interface BindingPlace {
  server: string;
  tunnelId: string;
  connId: string;
  /** Subject key (policy `subjectKey`) of the client identity. */
  owner: string;
}

/** Told of every session → connection binding made or ended here (the cluster shares them: src/cluster). */
export interface SessionListener {
  bound(tunnelId: string, sessionKey: string, connId: string): void;
  ended(tunnelId: string, sessionKey: string): void;
}

/** Drops the oldest entries of an insertion-ordered map beyond `max`. */
function trim(map: Map<string, string>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) return;
    map.delete(oldest);
  }
}

/**
 * Everything the gateway knows about MCP sessions, in one place so the maps change together:
 *
 * - session → identity, per server: the identity whose request created a Streamable HTTP session
 *   (`Mcp-Session-Id` in a response). Session ids are bearer-like, so another identity presenting one
 *   is answered as if the session did not exist (docs/policy.md, "Paths and sessions").
 * - session → tunnel connection, per tunnel: requests of a session go to the proxy connection that
 *   created it (affinity; the registry falls back to the least loaded connection when it is gone).
 * - the legacy HTTP+SSE message endpoints announced on open GET streams (owner and connection).
 *
 * Each map is bounded: beyond its maximum the oldest entry is forgotten, and a forgotten (or never
 * seen, e.g. created before a gateway restart) session is not checked. Legacy endpoints are bounded
 * per server by refusing new announcements instead (never evicting a live one).
 */
export class SessionBinding {
  /** `${server}\0${sessionId}` → owner; the creator keeps it. */
  readonly #owners = new Map<string, string>();
  /** `${tunnelId}\0${sessionKey}` → connection id; re-binding moves the entry to the newest. */
  readonly #connections = new Map<string, string>();
  readonly #endpoints: LegacyEndpoints;
  readonly #maxOwners: number;
  readonly #maxConnections: number;
  #listener: SessionListener | null = null;

  constructor(opts: { maxOwners?: number; maxConnections?: number; endpoints?: LegacyEndpoints } = {}) {
    this.#maxOwners = opts.maxOwners ?? MAX_SESSION_OWNERS;
    this.#maxConnections = opts.maxConnections ?? MAX_SESSION_CONNECTIONS;
    this.#endpoints = opts.endpoints ?? new LegacyEndpoints();
  }

  /** Cluster hook: one listener, told of bindings made and ended here (not of adopted ones). */
  listen(listener: SessionListener): void {
    this.#listener = listener;
  }

  /** Records where another replica bound the session (learnt from the cluster); tells no listener. */
  adopt(tunnelId: string, sessionKey: string, connId: string): void {
    this.#bindConnection(tunnelId, sessionKey, connId);
  }

  /** Number of sessions with a known owner. */
  get size(): number {
    return this.#owners.size;
  }

  /** The identity that created the session, or null when the gateway does not know it. */
  ownerOf(server: string, sessionId: string): string | null {
    return this.#owners.get(`${server}\0${sessionId}`) ?? null;
  }

  /** The tunnel connection the session lives on, if known. */
  connectionOf(tunnelId: string, sessionKey: string): string | undefined {
    return this.#connections.get(`${tunnelId}\0${sessionKey}`);
  }

  /**
   * A response carried `Mcp-Session-Id: sessionId`: the session lives on `at.connId` from now on,
   * and belongs to `at.owner` unless another identity created it first.
   */
  bind(at: BindingPlace, sessionId: string): void {
    this.#bindConnection(at.tunnelId, sessionId, at.connId);
    this.#listener?.bound(at.tunnelId, sessionId, at.connId);
    const k = `${at.server}\0${sessionId}`;
    if (this.#owners.has(k)) return;
    this.#owners.set(k, at.owner);
    trim(this.#owners, this.#maxOwners);
  }

  /** The session ended (a successful DELETE): forget its owner and its connection. */
  end(server: string, tunnelId: string, sessionId: string): void {
    this.#owners.delete(`${server}\0${sessionId}`);
    this.#connections.delete(`${tunnelId}\0${sessionId}`);
    this.#listener?.ended(tunnelId, sessionId);
  }

  /** A tunnel connection went away: its sessions have no connection any more (owners stay). */
  forgetConnection(connId: string): void {
    for (const [k, v] of this.#connections) if (v === connId) this.#connections.delete(k);
  }

  /**
   * Registers a legacy endpoint announced on a GET stream of `at.owner` carried by `at.connId`, and
   * binds its session to that connection. Returns the function that undoes both (call it when the
   * GET stream closes), or null when the server's endpoints are full or this one is already live.
   */
  announce(at: BindingPlace, endpoint: Omit<Announcement, 'server' | 'owner' | 'connId'>): (() => void) | null {
    const remove = this.#endpoints.add({ ...endpoint, server: at.server, owner: at.owner, connId: at.connId });
    if (remove === null) return null;
    this.#bindConnection(at.tunnelId, endpoint.sessionId, at.connId);
    return () => {
      remove();
      this.#connections.delete(`${at.tunnelId}\0${endpoint.sessionId}`);
    };
  }

  /** The live legacy endpoint announced as exactly this path+query, or null. */
  endpoint(server: string, rest: string, search: string): LegacyEndpoint | null {
    return this.#endpoints.lookup(server, rest, search);
  }

  /** Canonical names of the query parameters that route sessions on this server (./legacy-endpoints). */
  routersOf(server: string): ReadonlySet<string> {
    return this.#endpoints.routersOf(server);
  }

  #bindConnection(tunnelId: string, sessionKey: string, connId: string): void {
    const k = `${tunnelId}\0${sessionKey}`;
    this.#connections.delete(k);
    this.#connections.set(k, connId);
    trim(this.#connections, this.#maxConnections);
  }
}
