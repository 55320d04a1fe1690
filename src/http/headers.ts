/**
 * HTTP header lists as they travel through the tunnel, and the hop-by-hop hygiene an HTTP proxy owes
 * both directions (RFC 9110 §7.6.1, RFC 9113 §8.2.2).
 *
 * A {@link HeaderList} is an ordered array of `[name, value]` pairs with lower-case names; a header
 * repeated on the wire is repeated in the list, in wire order. Values are kept byte-exact: Node and
 * undici both decode header bytes as latin1, so a string value maps 1:1 onto the bytes sent.
 */

/** Ordered `[lower-case name, value]` pairs; repeated headers are repeated pairs, in wire order. */
export type HeaderList = Array<[name: string, value: string]>;

/**
 * Header fields that describe one connection rather than the message (RFC 9110 §7.6.1 plus the
 * de-facto `keep-alive` and `proxy-connection`). A proxy must not forward them; `te` is dropped
 * outright because nothing in the tunnel negotiates trailers.
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = Object.freeze([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers that are never forwarded to an internal MCP server, on top of hop-by-hop ones:
 * - `host`: undici derives it from the upstream URL; the client's value names the gateway.
 * - `authorization`: the client's credential for the gateway. The MCP specification forbids token
 *   passthrough, so it must never reach the internal server.
 * - `expect`: `100-continue` is a hop-level negotiation the gateway already answered (and undici
 *   refuses to send it).
 */
export const REQUEST_ONLY_DROPPED_HEADERS: readonly string[] = Object.freeze(['host', 'authorization', 'expect']);

const HOP_BY_HOP_SET: ReadonlySet<string> = new Set(HOP_BY_HOP_HEADERS);

/**
 * Converts Node's `IncomingMessage.rawHeaders` (flat `[name, value, name, value, …]`, original case)
 * or undici's raw response headers (same shape) into a {@link HeaderList}.
 *
 * Names are lower-cased; values and order are kept exactly. A trailing unpaired entry is ignored.
 */
export function fromNodeRawHeaders(raw: readonly string[]): HeaderList {
  const list: HeaderList = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    list.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
  }
  return list;
}

/**
 * Flattens a {@link HeaderList} into `[name, value, name, value, …]`, the array form accepted by
 * `ServerResponse.writeHead(status, headers)`. Node appends each pair, so repeated headers (e.g. every
 * `set-cookie`) go out as separate header lines in the original order.
 */
export function toNodeHeaders(list: HeaderList): string[] {
  const flat: string[] = new Array<string>(list.length * 2);
  for (let i = 0; i < list.length; i++) {
    const [name, value] = list[i] as [string, string];
    flat[2 * i] = name;
    flat[2 * i + 1] = value;
  }
  return flat;
}

/**
 * The names listed in every `Connection` header of `list` (comma-separated tokens, trimmed,
 * lower-cased). `close` and `keep-alive` come back like any other token.
 */
export function connectionTokens(list: HeaderList): Set<string> {
  const tokens = new Set<string>();
  for (const [name, value] of list) {
    if (name.toLowerCase() !== 'connection') continue;
    for (const part of value.split(',')) {
      const token = part.trim().toLowerCase();
      if (token !== '') tokens.add(token);
    }
  }
  return tokens;
}

/**
 * Removes hop-by-hop headers: the fixed {@link HOP_BY_HOP_HEADERS}, every header named in a
 * `Connection` header's value, every name in `extraDrop` (case-insensitive), and HTTP/2 pseudo-header
 * entries (`:method`, `:path`, …) that Node's HTTP/2 compatibility layer puts into `rawHeaders` —
 * they are framing, not header fields, and an HTTP/1.1 hop rejects them.
 *
 * Returns a new list; order and values of the kept pairs are unchanged. Names are compared
 * case-insensitively; the kept pairs keep their names as given.
 */
export function stripHopByHop(list: HeaderList, extraDrop: readonly string[] = []): HeaderList {
  const drop = connectionTokens(list);
  for (const name of extraDrop) drop.add(name.toLowerCase());
  const kept: HeaderList = [];
  for (const pair of list) {
    const name = pair[0].toLowerCase();
    if (HOP_BY_HOP_SET.has(name) || drop.has(name) || name.startsWith(':')) continue;
    kept.push([pair[0], pair[1]]);
  }
  return kept;
}

/**
 * The headers to send to the internal MCP server for a client request: {@link stripHopByHop} plus
 * {@link REQUEST_ONLY_DROPPED_HEADERS} (`host`, `authorization`, `expect`). Everything else — accept,
 * content-type, content-length, cookie, origin, last-event-id, mcp-session-id,
 * mcp-protocol-version, mcp-method, mcp-name, mcp-param-* … — passes byte-exact and in order.
 *
 * One rewrite: several `cookie` pairs (HTTP/2 clients may split the cookie into crumbs) are joined
 * into one with `"; "` at the position of the first, as RFC 9113 §8.2.3 requires before the value
 * enters an HTTP/1.1 connection. A single `cookie` header is untouched.
 */
export function requestHeadersForUpstream(list: HeaderList): HeaderList {
  const stripped = stripHopByHop(list, REQUEST_ONLY_DROPPED_HEADERS);
  return joinCookieCrumbs(stripped);
}

/**
 * The headers to send back to the MCP client for an upstream response: {@link stripHopByHop} only.
 * content-length, content-type, cache-control, mcp-session-id, www-authenticate, every `set-cookie`
 * … pass byte-exact and in order.
 */
export function responseHeadersForClient(list: HeaderList): HeaderList {
  return stripHopByHop(list);
}

/** The first value of header `name` (case-insensitive), or `undefined` when absent. */
export function getHeader(list: HeaderList, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [n, v] of list) {
    if (n.toLowerCase() === wanted) return v;
  }
  return undefined;
}

/** Every value of header `name` (case-insensitive), in order; empty when absent. */
export function getHeaderValues(list: HeaderList, name: string): string[] {
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const [n, v] of list) {
    if (n.toLowerCase() === wanted) values.push(v);
  }
  return values;
}

function joinCookieCrumbs(list: HeaderList): HeaderList {
  let first = -1;
  let count = 0;
  for (let i = 0; i < list.length; i++) {
    if ((list[i] as [string, string])[0].toLowerCase() === 'cookie') {
      if (first === -1) first = i;
      count++;
    }
  }
  if (count < 2) return list;
  const joined = getHeaderValues(list, 'cookie').join('; ');
  const out: HeaderList = [];
  for (let i = 0; i < list.length; i++) {
    const pair = list[i] as [string, string];
    if (pair[0].toLowerCase() !== 'cookie') out.push(pair);
    else if (i === first) out.push([pair[0], joined]);
  }
  return out;
}
