import { type HeaderList, requestHeadersForUpstream } from '../http/headers';
import { UpstreamError, UpstreamErrorCode } from './errors';

/** RFC 9110 token characters, the only ones allowed in a header name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value undici will write: HTAB, visible ASCII, space and obs-text (latin1 0x80–0xff). */
const FIELD_VALUE = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;
const DIGITS = /^[0-9]+$/;

/** Request headers ready for `Dispatcher.request`, plus what the dispatcher needs to know about them. */
export interface PreparedRequestHeaders {
  /** `[name, value, name, value, …]`, in order; the form undici passes through untouched. */
  flat: string[];
  /** The declared body length, when the client sent one. */
  contentLength: number | null;
}

/**
 * Applies {@link requestHeadersForUpstream} and then makes the list acceptable to undici, which throws
 * on some inputs a legitimate client (or an HTTP/2 gateway) can produce:
 *
 * - `connection`, `keep-alive`, `transfer-encoding`, `upgrade`, `expect`: rejected by undici; already
 *   dropped by the hop-by-hop stripping.
 * - duplicate `host`: `host` is dropped.
 * - duplicate `content-length` or a list value (`42, 42`): RFC 9110 §8.6 allows a recipient to accept
 *   identical repeats; they are collapsed into one pair. Differing values are an error.
 * - HTTP/2 pseudo-headers (`:path` …): dropped by the stripping.
 *
 * Names and values that are invalid on the wire (non-token names, CR/LF/NUL in values) can only
 * arrive from a broken peer; they are refused here with a message naming the header (never its value).
 *
 * @throws UpstreamError `TUNNEL_UPSTREAM_BAD_REQUEST`
 */
export function prepareRequestHeaders(list: HeaderList, server: string, origin: string): PreparedRequestHeaders {
  const bad = (why: string): UpstreamError =>
    new UpstreamError(UpstreamErrorCode.BadRequest, `request for upstream ${origin} (server "${server}"): ${why}`, {
      server,
      origin,
    });
  const flat: string[] = [];
  let contentLength: number | null = null;
  let contentLengthText: string | null = null;
  for (const [name, value] of requestHeadersForUpstream(list)) {
    if (!TOKEN.test(name)) throw bad(`invalid header name ${JSON.stringify(name.slice(0, 64))}`);
    if (!FIELD_VALUE.test(value)) throw bad(`invalid characters in the value of header "${name}"`);
    if (name.toLowerCase() === 'content-length') {
      for (const part of value.split(',')) {
        const text = part.trim();
        if (!DIGITS.test(text)) throw bad('invalid content-length header');
        const normalized = text.replace(/^0+(?=\d)/, '');
        if (contentLengthText !== null && contentLengthText !== normalized) {
          throw bad('conflicting content-length values');
        }
        if (contentLengthText === null) {
          contentLengthText = normalized;
          contentLength = Number(normalized);
          if (!Number.isSafeInteger(contentLength)) throw bad('content-length too large');
          flat.push(name, normalized);
        }
      }
      continue;
    }
    flat.push(name, value);
  }
  return { flat, contentLength };
}
