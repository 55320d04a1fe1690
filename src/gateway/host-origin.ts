/**
 * DNS-rebinding protection for the MCP endpoints (`/mcp/...`, CORS preflights included): the
 * gateway is the server its clients see, and it sends the upstream the upstream's own `Host`, so an
 * internal server's Host/Origin check cannot work through it. The gateway checks both itself,
 * before anything is read or forwarded (docs/policy.md "Host and Origin").
 *
 * One reading: `Host` and `Origin` are parsed here by one strict grammar (no userinfo, path,
 * percent-escapes or whitespace), lower-cased, IPv6 in its compressed bracketed form; anything
 * else is refused, never "repaired". The forwarded request keeps `Origin` unchanged.
 */
import * as net from 'node:net';
import type { IncomingMessage } from 'node:http';
import { GatewayError } from './errors';

/** A host name and an optional port, as parsed from `Host` or an `allowedHosts` entry. */
export interface HostPort {
  /** Lower case; IPv6 in brackets, compressed (`[::1]`). */
  hostname: string;
  port: number | null;
}

/** An origin (`scheme://host[:port]`), the port made explicit for http/https. */
export interface OriginTuple {
  scheme: string;
  hostname: string;
  port: number | null;
}

/** `*` in `allowedOrigins`: any Origin is accepted (the Host check still applies). */
export const ANY_ORIGIN = '*';

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
const REG_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const PORT = /^[0-9]{1,5}$/;

/** Parses `host[:port]` (`[v6][:port]`) strictly; null for anything else. */
export function parseHostPort(text: string): HostPort | null {
  if (text.length === 0 || text.length > 300) return null;
  const t = text.toLowerCase();
  let host: string;
  let rest: string;
  if (t.startsWith('[')) {
    const close = t.indexOf(']');
    if (close < 0) return null;
    const v6 = t.slice(1, close);
    if (!net.isIPv6(v6) || v6.includes('%')) return null;
    host = `[${compressIpv6(v6)}]`;
    rest = t.slice(close + 1);
  } else {
    const colon = t.indexOf(':');
    host = colon < 0 ? t : t.slice(0, colon);
    rest = colon < 0 ? '' : t.slice(colon);
    // A name ending in a numeric label is an IPv4 address to URL parsers (`127.1`, `0x7f.1`): only
    // the canonical dotted quad is accepted, so no one reads it as a different host than we do.
    if (!IPV4.test(host) && (!REG_NAME.test(host) || /(^|\.)(0x[0-9a-f]*|[0-9]+)$/.test(host))) return null;
  }
  if (rest === '') return { hostname: host, port: null };
  if (!rest.startsWith(':') || !PORT.test(rest.slice(1))) return null;
  const port = Number(rest.slice(1));
  return port >= 1 && port <= 65535 ? { hostname: host, port } : null;
}

/** Parses a serialized origin (`scheme://host[:port]`, no path); null for anything else (`null` included). */
export function parseOrigin(text: string): OriginTuple | null {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#@\\\s]+)$/.exec(text);
  if (!m?.[1] || !m[2]) return null;
  const scheme = m[1].toLowerCase();
  const hp = parseHostPort(m[2]);
  if (hp === null) return null;
  return { scheme, hostname: hp.hostname, port: hp.port ?? defaultPort(scheme) };
}

function defaultPort(scheme: string): number | null {
  return scheme === 'http' ? 80 : scheme === 'https' ? 443 : null;
}

function compressIpv6(v6: string): string {
  // The WHATWG URL serializer is the canonical compressed form ([0:0::1] -> [::1]).
  return new URL(`http://[${v6}]/`).hostname.slice(1, -1);
}

/** True for a loopback name: `localhost`, 127.0.0.0/8, `[::1]`. */
export function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || (IPV4.test(hostname) && hostname.startsWith('127.')) || hostname === '[::1]';
}

/** The listener's own address as a Host name (`::1` -> `[::1]`), or null when it is a wildcard. */
function listenerName(listenHost: string): string | null {
  const h = listenHost.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === '' || h === '0.0.0.0' || h === '::') return null;
  return net.isIPv6(h) ? `[${compressIpv6(h)}]` : h;
}

/** What the check needs to know about the listener and the configuration (read per request). */
export interface HostOriginSettings {
  /** `listen.host` as configured. */
  listenHost: string;
  /** The listener terminates TLS (its own scheme is https). */
  tls: boolean;
  /** `allowedHosts` entries (parsed); empty = no list. */
  allowedHosts: readonly HostPort[];
  /** `allowedOrigins` entries (parsed), or `*`. */
  allowedOrigins: readonly OriginTuple[] | typeof ANY_ORIGIN;
  /** `auth.resource`, the gateway's public base URL: its origin counts as the gateway's own. */
  publicUrl: string | null;
}

/** Parses the configured lists once (a reload builds a new one). Entries were validated by the config formats. */
export function compileHostOrigin(c: {
  listenHost: string;
  tls: boolean;
  allowedHosts?: readonly string[];
  allowedOrigins?: readonly string[];
  publicUrl?: string | null;
}): HostOriginSettings {
  const hosts = (c.allowedHosts ?? []).map((h) => parseHostPort(h)).filter((h): h is HostPort => h !== null);
  const origins = c.allowedOrigins ?? [];
  return {
    listenHost: c.listenHost,
    tls: c.tls,
    allowedHosts: hosts,
    allowedOrigins: origins.includes(ANY_ORIGIN) ? ANY_ORIGIN : origins.map((o) => parseOrigin(o)).filter((o): o is OriginTuple => o !== null),
    publicUrl: c.publicUrl ?? null,
  };
}

/** Whether the Host check is active: an `allowedHosts` list, or a loopback listener. */
export function hostCheckActive(s: HostOriginSettings): boolean {
  const own = listenerName(s.listenHost);
  return s.allowedHosts.length > 0 || (own !== null && isLoopbackName(own));
}

function hostAllowed(host: HostPort, s: HostOriginSettings): boolean {
  if (s.allowedHosts.length > 0) {
    // An entry without a port accepts any port; a Host without a port matches an entry on a
    // default port (behind a load balancer the gateway cannot know which scheme the client used).
    return s.allowedHosts.some(
      (e) => e.hostname === host.hostname && (e.port === null || e.port === host.port || (host.port === null && (e.port === 80 || e.port === 443))),
    );
  }
  return isLoopbackName(host.hostname) || host.hostname === listenerName(s.listenHost);
}

function sameOrigin(o: OriginTuple, host: HostPort | null, s: HostOriginSettings): boolean {
  if (host !== null) {
    const scheme = s.tls ? 'https' : 'http';
    if (o.scheme === scheme && o.hostname === host.hostname && o.port === (host.port ?? defaultPort(scheme))) return true;
  }
  if (s.publicUrl !== null) {
    const pub = parseOrigin(new URL(s.publicUrl).origin);
    if (pub !== null && equalOrigins(pub, o)) return true;
  }
  return false;
}

function equalOrigins(a: OriginTuple, b: OriginTuple): boolean {
  return a.scheme === b.scheme && a.hostname === b.hostname && a.port === b.port;
}

/**
 * Checks `Host` and `Origin` of a request to an MCP endpoint.
 *
 * - `Host`, when the check is active ({@link hostCheckActive}): missing, malformed or not allowed
 *   → `TUNNEL_HOST_DENIED` (403).
 * - `Origin`, when present (`null` included, and repeated counts as malformed): neither same-origin
 *   (scheme of the listener, host and port of the request's `Host`, or the origin of
 *   `auth.resource`) nor in `allowedOrigins` → `TUNNEL_ORIGIN_DENIED` (403).
 *
 * `opts.origin: false` checks `Host` only (public documents such as the resource metadata).
 *
 * @returns null when the request may proceed, else the error to answer. Never throws.
 */
export function checkHostOrigin(req: IncomingMessage, s: HostOriginSettings, opts: { origin: boolean } = { origin: true }): GatewayError | null {
  const rawHost = req.headers.host;
  const host = typeof rawHost === 'string' ? parseHostPort(rawHost) : null;
  if (hostCheckActive(s) && (host === null || !hostAllowed(host, s))) {
    const shown = typeof rawHost === 'string' ? JSON.stringify(rawHost.slice(0, 100)) : 'missing';
    return new GatewayError('TUNNEL_HOST_DENIED', `Host ${shown} is not a name this gateway answers to (DNS-rebinding protection; see allowedHosts)`);
  }
  if (!opts.origin) return null;
  let origins = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]?.toLowerCase() === 'origin') origins++;
  if (origins === 0) return null;
  if (s.allowedOrigins === ANY_ORIGIN) return null;
  const raw = req.headers.origin;
  const origin = origins === 1 && typeof raw === 'string' ? parseOrigin(raw) : null;
  if (origin !== null && (sameOrigin(origin, host, s) || s.allowedOrigins.some((a) => equalOrigins(a, origin)))) return null;
  const shown = origins === 1 && typeof raw === 'string' ? JSON.stringify(raw.slice(0, 100)) : `(${origins} Origin headers)`;
  return new GatewayError('TUNNEL_ORIGIN_DENIED', `Origin ${shown} is not allowed (not this gateway's origin, not in allowedOrigins)`);
}
