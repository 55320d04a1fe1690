/**
 * The one grammar for host names and origins, shared by the configuration (which validates
 * `allowedHosts`/`allowedOrigins`) and the gateway (which checks `Host`/`Origin` against them), so
 * both read an entry the same way.
 *
 * Strict: no userinfo, path, percent-escapes or whitespace; names are lower-cased, IPv6 is given in
 * its compressed bracketed form; anything else is refused (null), never "repaired". Pure functions.
 */
import * as net from 'node:net';

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

/** The default port of `http` (80) and `https` (443); null for any other scheme. */
export function defaultPort(scheme: string): number | null {
  return scheme === 'http' ? 80 : scheme === 'https' ? 443 : null;
}

/** Whether two parsed origins are the same origin (scheme, host and port). */
export function equalOrigins(a: OriginTuple, b: OriginTuple): boolean {
  return a.scheme === b.scheme && a.hostname === b.hostname && a.port === b.port;
}

function compressIpv6(v6: string): string {
  // The WHATWG URL serializer is the canonical compressed form ([0:0::1] -> [::1]).
  return new URL(`http://[${v6}]/`).hostname.slice(1, -1);
}

/**
 * True for a loopback name: `localhost`, 127.0.0.0/8, `[::1]`, in the canonical form this module's
 * parsers (and `URL.hostname`) produce.
 */
export function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || (IPV4.test(hostname) && hostname.startsWith('127.')) || hostname === '[::1]';
}

/** A listen address as a Host name (`::1` -> `[::1]`), or null when it is a wildcard (`0.0.0.0`, `::`, empty). */
export function listenerName(listenHost: string): string | null {
  const h = listenHost.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === '' || h === '0.0.0.0' || h === '::') return null;
  return net.isIPv6(h) ? `[${compressIpv6(h)}]` : h;
}
