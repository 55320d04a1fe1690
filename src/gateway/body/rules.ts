/**
 * The header rules a request body must meet before the gateway reads it (docs/policy.md, "How the
 * gateway reads a request"). Each rule closes a way for the upstream to read the body differently
 * from the gateway: a compressed body (express.json inflates it), a charset (express.json and the
 * legacy SSE transport decode with it), a body on a method the policy does not inspect, or two
 * `Content-Type` lines (the gateway would check one and forward both).
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors';
import { paramValues, parseContentType } from './content-type';

/** Rule 1: a request has a body when `Content-Length` is above 0 or `Transfer-Encoding` is present. */
export function hasRequestBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined) return Number(len) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Every value of header `name` (lower-case) as sent, one per header line (`req.rawHeaders`). */
function headerLines(req: IncomingMessage, name: string): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

/**
 * Checks the body-related headers of a request; returns the error to answer with, or null when the
 * request may go on. Rules (in this order):
 *
 * - more than one `Content-Type` line: 400 `TUNNEL_DUPLICATE_CONTENT_TYPE` (any request);
 * - a body on a method other than POST: 400 `TUNNEL_BODY_NOT_ALLOWED`;
 * - a body with a `Content-Encoding` other than `identity`: 415 `TUNNEL_UNSUPPORTED_ENCODING`
 *   (answer with `Accept-Encoding: identity`, RFC 7694);
 * - a body whose `Content-Type` does not parse: 415 `TUNNEL_UNSUPPORTED_CONTENT_TYPE`;
 * - a body whose `Content-Type` names a charset other than utf-8, or names one twice (also as text
 *   a naive parser would take for one, e.g. inside a quoted value): 415 `TUNNEL_UNSUPPORTED_CHARSET`.
 */
export function checkBodyHeaders(req: IncomingMessage): GatewayError | null {
  const types = headerLines(req, 'content-type');
  if (types.length > 1) {
    return new GatewayError('TUNNEL_DUPLICATE_CONTENT_TYPE', `the request has ${types.length} Content-Type header lines; send exactly one`);
  }
  if (!hasRequestBody(req)) return null;
  if (req.method !== 'POST') {
    return new GatewayError('TUNNEL_BODY_NOT_ALLOWED', `a ${req.method ?? ''} request may not carry a body (only POST bodies are forwarded)`);
  }
  for (const line of headerLines(req, 'content-encoding')) {
    for (const coding of line.split(',')) {
      const c = coding.trim().toLowerCase();
      if (c !== 'identity' && c !== '') {
        return new GatewayError('TUNNEL_UNSUPPORTED_ENCODING', `request bodies must not be encoded (Content-Encoding "${c.slice(0, 40)}"); send it uncompressed`);
      }
    }
  }
  const type = types[0];
  if (type === undefined) return null;
  const media = parseContentType(type);
  if (media === null) {
    return new GatewayError('TUNNEL_UNSUPPORTED_CONTENT_TYPE', 'the Content-Type header of the request does not parse (RFC 9110 media type)');
  }
  const charsets = paramValues(media, 'charset');
  const mentions = type.match(/charset/gi)?.length ?? 0;
  if (charsets.length > 1 || mentions !== charsets.length || (charsets.length === 1 && charsets[0]!.toLowerCase() !== 'utf-8')) {
    const named = charsets.length === 1 ? ` "${charsets[0]!.slice(0, 40)}"` : '';
    return new GatewayError('TUNNEL_UNSUPPORTED_CHARSET', `request bodies must be UTF-8: unsupported charset${named} in Content-Type`);
  }
  return null;
}
