/**
 * DNS-rebinding protection for the MCP endpoints (`/mcp/...`, CORS preflights included): the
 * gateway is the server its clients see, and it sends the upstream the upstream's own `Host`, so an
 * internal server's Host/Origin check cannot work through it. The gateway checks both itself,
 * before anything is read or forwarded (docs/policy.md "Host and Origin").
 *
 * One reading: `Host` and `Origin` are parsed by the strict grammar of `http/host.ts` (no userinfo,
 * path, percent-escapes or whitespace), the same one that validated `allowedHosts` and
 * `allowedOrigins`: lower-cased, IPv6 in its compressed bracketed form; anything else is refused,
 * never "repaired". The forwarded request keeps `Origin` unchanged.
 */
import type { IncomingMessage } from 'node:http';
import { ANY_ORIGIN, defaultPort, equalOrigins, isLoopbackName, listenerName, parseHostPort, parseOrigin, type HostPort, type OriginTuple } from '../http';
import { GatewayError } from './errors';

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
