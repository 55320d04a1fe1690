import { UpstreamError, UpstreamErrorCode } from './errors';

/** Where one upstream request goes, split the way undici wants it. */
export interface UpstreamTarget {
  /** `http://host:port` / `https://host:port` (default port omitted), as WHATWG URL serializes it. */
  origin: string;
  /** Path and query exactly as written in the URL (no dot-segment or percent normalisation). */
  path: string;
}

/** scheme://authority, then an optional path-and-query; the authority may not hide `\` or `@`. */
const RAW_URL = /^https?:\/\/[^/?#\\@]+([/?][^#]*)?(?:#.*)?$/i;
/** Bytes undici accepts in a request target (it rejects controls, space and anything above 0xff). */
const SENDABLE_PATH = /^[\u0021-\u00ff]*$/;

/**
 * Parses an absolute upstream URL.
 *
 * The path and query are taken verbatim from `url` when they can be sent as-is, so that `/a/../b`,
 * `%2F` or an empty `?` reach the MCP server unchanged (a transparent tunnel must not normalise what
 * the client asked for). Otherwise (spaces, non-latin1 characters) the WHATWG-normalised form is used.
 * The fragment is never sent.
 *
 * @throws UpstreamError `TUNNEL_UPSTREAM_BAD_URL` for an unparsable URL, a scheme other than http/https,
 *   or a URL with user info (credentials belong in headers, not in an upstream URL).
 */
export function parseUpstreamUrl(url: string, server: string): UpstreamTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new UpstreamError(UpstreamErrorCode.BadUrl, `upstream URL for server "${server}" is not a valid absolute URL`, {
      server,
      origin: null,
      cause: err,
      causeCode: 'ERR_INVALID_URL',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UpstreamError(
      UpstreamErrorCode.BadUrl,
      `upstream URL for server "${server}" must be http: or https:, got ${parsed.protocol}`,
      { server, origin: null },
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new UpstreamError(
      UpstreamErrorCode.BadUrl,
      `upstream URL for server "${server}" must not contain credentials`,
      { server, origin: parsed.origin },
    );
  }
  const raw = RAW_URL.exec(url);
  let path: string;
  if (raw !== null && SENDABLE_PATH.test(raw[1] ?? '')) {
    path = raw[1] ?? '/';
    if (path.startsWith('?')) path = `/${path}`;
  } else {
    path = `${parsed.pathname}${parsed.search}`;
  }
  return { origin: parsed.origin, path };
}
