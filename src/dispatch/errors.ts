import { TunnelError } from '../errors';

/**
 * Stable codes of the errors the upstream dispatcher raises. Compare `err.code` against these, never
 * `instanceof`. Each entry of {@link UPSTREAM_ERROR_CODES} documents when the code is used.
 */
export const UpstreamErrorCode = {
  Unreachable: 'TUNNEL_UPSTREAM_UNREACHABLE',
  Timeout: 'TUNNEL_UPSTREAM_TIMEOUT',
  Reset: 'TUNNEL_UPSTREAM_RESET',
  BadUrl: 'TUNNEL_UPSTREAM_BAD_URL',
  Forbidden: 'TUNNEL_UPSTREAM_FORBIDDEN',
  Aborted: 'TUNNEL_UPSTREAM_ABORTED',
  BadRequest: 'TUNNEL_UPSTREAM_BAD_REQUEST',
  Protocol: 'TUNNEL_UPSTREAM_PROTOCOL',
  Closed: 'TUNNEL_UPSTREAM_CLOSED',
  TlsConfig: 'TUNNEL_UPSTREAM_TLS_CONFIG',
  Failed: 'TUNNEL_UPSTREAM_FAILED',
} as const;

export type UpstreamErrorCode = (typeof UpstreamErrorCode)[keyof typeof UpstreamErrorCode];

/** Registry of every dispatch error code: default `retryable` and when the code is raised. */
export const UPSTREAM_ERROR_CODES: Readonly<Record<UpstreamErrorCode, { retryable: boolean; description: string }>> =
  Object.freeze({
    TUNNEL_UPSTREAM_UNREACHABLE: {
      retryable: true,
      description:
        'No connection to the upstream could be established, so the request was not processed: connection ' +
        'refused, DNS failure, host or network unreachable, connect timeout (TCP + TLS handshake), or a TLS ' +
        'handshake failure (untrusted or mismatched server certificate, client certificate missing or rejected).',
    },
    TUNNEL_UPSTREAM_TIMEOUT: {
      retryable: false,
      description:
        'The upstream accepted the request but sent no response headers within upstream.headersTimeoutMs. ' +
        'The request may have been processed.',
    },
    TUNNEL_UPSTREAM_RESET: {
      retryable: false,
      description:
        'The upstream connection closed or reset before or while the response was delivered (socket closed, ' +
        'ECONNRESET, EPIPE, response shorter than its Content-Length). The request may have been processed.',
    },
    TUNNEL_UPSTREAM_BAD_URL: {
      retryable: false,
      description:
        'The upstream URL is unparsable, is not http: or https:, or carries credentials. A configuration error.',
    },
    TUNNEL_UPSTREAM_FORBIDDEN: {
      retryable: false,
      description:
        'The egress allowlist (upstream.allow) matches none of the addresses the target resolved to, or the ' +
        'IP literal of its URL. Nothing was sent; `egress` names the decision.',
    },
    TUNNEL_UPSTREAM_ABORTED: {
      retryable: false,
      description: "The request's AbortSignal fired (client went away or the stream was cancelled).",
    },
    TUNNEL_UPSTREAM_BAD_REQUEST: {
      retryable: false,
      description:
        'The request cannot be sent as given: invalid method, header name or value, conflicting Content-Length ' +
        'values, request body length different from Content-Length, or the request body stream failed.',
    },
    TUNNEL_UPSTREAM_PROTOCOL: {
      retryable: false,
      description: 'The upstream sent an invalid HTTP response (parse error, oversized headers).',
    },
    TUNNEL_UPSTREAM_CLOSED: {
      retryable: false,
      description:
        'The dispatcher was closed: requests made after close() (retryable, nothing was sent) or in-flight ' +
        'requests destroyed when the close grace period ran out (not retryable).',
    },
    TUNNEL_UPSTREAM_TLS_CONFIG: {
      retryable: false,
      description:
        'Upstream TLS material could not be loaded when the dispatcher was created (unreadable PEM file, ' +
        'certificate without key or key without certificate). Raised synchronously by createUpstreamDispatcher.',
    },
    TUNNEL_UPSTREAM_FAILED: {
      retryable: false,
      description: 'Any other failure of the upstream exchange; the message carries the underlying code.',
    },
  });

/**
 * An error of one upstream exchange (or of the dispatcher's configuration).
 *
 * `server` is the configured server name, `origin` the upstream origin (`https://host:port`, `null`
 * when the URL could not be parsed) and `causeCode` the underlying Node/undici code (`ECONNREFUSED`,
 * `UND_ERR_HEADERS_TIMEOUT`, …) when there was one. The message names origin and underlying code but
 * never the path or query of the URL, nor any header value.
 */
export class UpstreamError extends TunnelError {
  declare readonly code: UpstreamErrorCode;
  readonly server: string;
  readonly origin: string | null;
  readonly causeCode: string | null;
  /** For `TUNNEL_UPSTREAM_FORBIDDEN`: the egress decision (`denied: no rule matches …`), else null. */
  readonly egress: string | null;

  constructor(
    code: UpstreamErrorCode,
    message: string,
    fields: { server: string; origin: string | null; cause?: unknown; causeCode?: string | null; retryable?: boolean; egress?: string | null },
  ) {
    super(code, message, {
      cause: fields.cause,
      retryable: fields.retryable ?? UPSTREAM_ERROR_CODES[code].retryable,
    });
    this.name = 'UpstreamError';
    this.server = fields.server;
    this.origin = fields.origin;
    this.causeCode = fields.causeCode ?? null;
    this.egress = fields.egress ?? null;
  }
}

/** True when `err` is an {@link UpstreamError} by shape (works across realms): a known code plus `server`. */
export function isUpstreamError(err: unknown): err is UpstreamError {
  if (typeof err !== 'object' || err === null) return false;
  const { code, server } = err as { code?: unknown; server?: unknown };
  return typeof code === 'string' && code in UPSTREAM_ERROR_CODES && typeof server === 'string';
}
