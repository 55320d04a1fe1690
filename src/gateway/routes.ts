import { canonicalName, findNamed, rawParamNames } from './query';

/** URL space of the gateway. */
export type Route =
  | { kind: 'mcp'; server: string; rest: string; search: string }
  | { kind: 'tunnel'; tunnelId: string }
  | { kind: 'health' }
  /** RFC 9728 protected resource metadata: the gateway's (`server` null) or one server's. */
  | { kind: 'resource-metadata'; server: string | null }
  | { kind: 'none' };

const NAME = '[A-Za-z0-9._-]{1,64}';
const MCP = new RegExp(`^/mcp/(${NAME})(/[^?]*)?$`);
const TUNNEL = new RegExp(`^/tunnel/(${NAME})/?$`);
const RESOURCE_METADATA = new RegExp(`^/\\.well-known/oauth-protected-resource(?:/mcp/(${NAME}))?/?$`);

/** Splits a request target (`req.url`) into a route. Never throws. */
export function route(target: string | undefined): Route {
  const t = target ?? '/';
  const q = t.indexOf('?');
  const path = q < 0 ? t : t.slice(0, q);
  const search = q < 0 ? '' : t.slice(q);
  let m = MCP.exec(path);
  if (m?.[1]) return { kind: 'mcp', server: m[1], rest: m[2] ?? '', search };
  m = TUNNEL.exec(path);
  if (m?.[1]) return { kind: 'tunnel', tunnelId: m[1] };
  if (path === '/healthz') return { kind: 'health' };
  m = RESOURCE_METADATA.exec(path);
  if (m) return { kind: 'resource-metadata', server: m[1] ?? null };
  return { kind: 'none' };
}

/** True for `/mcp/{server}` and `/mcp/{server}/`: the server's configured URL itself. */
export function isBasePath(rest: string): boolean {
  // `/mcp/notes/` is the server itself, as `/mcp/notes` is: clients often add the slash.
  return rest === '' || rest === '/';
}

/** A client query parameter that would replace or repeat one of the configured URL's. */
export interface QueryConflict {
  conflict: string;
}

/**
 * The upstream URL for a request to the server's base path (`/mcp/{server}[/]`): exactly the
 * configured URL (its path as configured, its query kept), with the client's query parameters
 * appended byte for byte. A client parameter whose name, as any common parser reads it
 * (see ./query), equals a configured parameter's name is a conflict: the upstream would read one
 * of the two, and which one depends on its parser.
 */
export function upstreamUrl(serverUrl: string, clientSearch: string): string | QueryConflict {
  // As configured, byte for byte (no URL normalisation: `/./`, `%7E` reach the server as written).
  const hash = serverUrl.indexOf('#');
  const configured = hash < 0 ? serverUrl : serverUrl.slice(0, hash);
  const q = configured.indexOf('?');
  const base = q < 0 ? configured : configured.slice(0, q);
  const configuredQuery = q < 0 ? '' : configured.slice(q + 1);
  const client = clientSearch.startsWith('?') ? clientSearch.slice(1) : clientSearch;
  if (client === '') return configuredQuery === '' ? base : `${base}?${configuredQuery}`;
  if (configuredQuery === '') return `${base}?${client}`;
  const names = new Set(rawParamNames(configuredQuery).map(canonicalName));
  const hit = findNamed(client, names);
  if (hit !== null) return { conflict: hit };
  return `${base}?${configuredQuery}&${client}`;
}

/**
 * Where a legacy `endpoint` event's URL (relative to the configured URL, or absolute) leads: the
 * upstream URL (resolved, as a client would resolve it) and the gateway-facing path+query that
 * stands for it (`/mcp/{server}` + its path and query). Null when it is not a URL or points at
 * another origin than the configured URL's (the gateway then never routes to it).
 */
export function resolveEndpoint(endpoint: string, serverUrl: string, server: string): { upstream: string; gatewayPath: string; rest: string; search: string } | null {
  let target: URL;
  try {
    target = new URL(endpoint, serverUrl);
  } catch {
    return null;
  }
  if (target.origin !== new URL(serverUrl).origin) return null;
  // Normalised once through URL, so the path written into the event is the one a client sends back.
  const gw = new URL(`/mcp/${server}${target.pathname}${target.search}`, 'http://gateway');
  const rest = gw.pathname.slice(`/mcp/${server}`.length);
  return { upstream: `${target.origin}${target.pathname}${target.search}`, gatewayPath: `${gw.pathname}${gw.search}`, rest, search: gw.search };
}
