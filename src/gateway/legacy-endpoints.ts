import { canonicalName, rawParamNames } from './query';

/** Most announced endpoints kept per server (each is one open legacy GET stream). */
export const MAX_LEGACY_ENDPOINTS_PER_SERVER = 100_000;
/** Most distinct session-routing parameter names learned per server. */
export const MAX_ROUTER_NAMES_PER_SERVER = 32;
/** Names every server is assumed to route sessions on (the SDKs' legacy transports). */
export const DEFAULT_SESSION_ROUTERS: readonly string[] = ['sessionid', 'session_id'];

/** One message endpoint announced by a legacy (2024-11-05) server on a GET stream that is still open. */
export interface LegacyEndpoint {
  /** The upstream URL as announced (resolved against the configured URL). */
  readonly upstream: string;
  /** The session the upstream routes the endpoint's POSTs to (its `sessionId`/`session_id`, else the whole path+query). */
  readonly sessionId: string;
  /** Subject key of the identity that opened the GET stream: only it may post here. */
  readonly owner: string;
  /** Tunnel connection that carries the GET stream. */
  readonly connId: string;
}

/** What a server announced, keyed for lookup. */
export interface Announcement extends LegacyEndpoint {
  readonly server: string;
  /** Gateway-facing path after `/mcp/{server}` (`''` for the base path) and query string (with `?`, or `''`). */
  readonly rest: string;
  readonly search: string;
}

function keyOf(server: string, rest: string, search: string): string {
  // `/mcp/x` and `/mcp/x/` are the same resource (routes.ts isBasePath).
  return `${server}\0${rest === '/' ? '' : rest}${search}`;
}

/**
 * The legacy message endpoints announced on open GET streams, per server: the only sub-paths
 * (and session-routing queries) the gateway routes. An entry lives exactly as long as the GET
 * stream that announced it (the upstream's legacy session ends with that stream). Bounded per
 * server: when full, a new announcement is refused, never an old live one evicted.
 *
 * Also remembers, per server, every parameter name seen in an announced endpoint's query (bounded),
 * on top of `sessionId`/`session_id`: a request whose query carries any of these names is routed
 * only if it is exactly an announced endpoint.
 */
export class LegacyEndpoints {
  readonly #entries = new Map<string, LegacyEndpoint>();
  readonly #perServer = new Map<string, number>();
  readonly #routers = new Map<string, Set<string>>();

  constructor(private readonly maxPerServer = MAX_LEGACY_ENDPOINTS_PER_SERVER) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Registers an announced endpoint. Returns a function that removes it (call it when the GET
   * stream closes), or null when the server already has `maxPerServer` live endpoints or the same
   * path+query is already announced on another live stream (a session id is never shared).
   */
  add(a: Announcement): (() => void) | null {
    const k = keyOf(a.server, a.rest, a.search);
    const count = this.#perServer.get(a.server) ?? 0;
    if (this.#entries.has(k) || count >= this.maxPerServer) return null;
    const entry: LegacyEndpoint = { upstream: a.upstream, sessionId: a.sessionId, owner: a.owner, connId: a.connId };
    this.#entries.set(k, entry);
    this.#perServer.set(a.server, count + 1);
    this.#learnRouters(a.server, a.search);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      if (this.#entries.get(k) !== entry) return;
      this.#entries.delete(k);
      const n = (this.#perServer.get(a.server) ?? 1) - 1;
      if (n <= 0) this.#perServer.delete(a.server);
      else this.#perServer.set(a.server, n);
    };
  }

  /** The live endpoint announced as exactly this path+query, or null. */
  lookup(server: string, rest: string, search: string): LegacyEndpoint | null {
    return this.#entries.get(keyOf(server, rest, search)) ?? null;
  }

  /** Canonical names (./query `canonicalName`) of the parameters that route sessions on this server. */
  routersOf(server: string): ReadonlySet<string> {
    return this.#routers.get(server) ?? DEFAULT_ROUTER_SET;
  }

  #learnRouters(server: string, search: string): void {
    let names = this.#routers.get(server);
    for (const raw of rawParamNames(search)) {
      const name = canonicalName(raw);
      if (DEFAULT_ROUTER_SET.has(name) || names?.has(name)) continue;
      if (!names) this.#routers.set(server, (names = new Set(DEFAULT_SESSION_ROUTERS)));
      if (names.size >= MAX_ROUTER_NAMES_PER_SERVER + DEFAULT_SESSION_ROUTERS.length) return;
      names.add(name);
    }
  }
}

const DEFAULT_ROUTER_SET: ReadonlySet<string> = new Set(DEFAULT_SESSION_ROUTERS);

/** The session an announced query routes on: its `sessionId`/`session_id` value, else the whole path+query. */
export function announcedSessionId(rest: string, search: string): string {
  const params = new URLSearchParams(search);
  return params.get('sessionId') ?? params.get('session_id') ?? `${rest}${search}`;
}
