import type { Readable } from 'node:stream';
import type { HeaderList } from '../http/headers';
import type { Cancellation } from './cancellation';

export type { HeaderList } from '../http/headers';

/** One request for an internal MCP server, as the proxy received it from the tunnel. */
export interface UpstreamRequest {
  /** Request id, for logs. */
  rid: string;
  /** Configured server name; selects the TLS settings (and so the connection pool). */
  server: string;
  /** Absolute http(s) URL including the query string; path and query are sent verbatim. */
  url: string;
  method: string;
  /**
   * The client's headers as received. The dispatcher applies `requestHeadersForUpstream` itself
   * (hop-by-hop, `host`, `authorization` and `expect` are dropped).
   */
  headers: HeaderList;
  /**
   * `null` = no body. A stream is sent as it is read (never buffered): with the client's
   * `content-length` when one was given, else chunked. The dispatcher owns it from the call on: it is
   * consumed, or destroyed when the request fails. A Buffer is a body that already arrived whole
   * (small requests: cheaper for undici than a stream).
   */
  body: Readable | Buffer | null;
  /**
   * Aborting cancels the upstream request in any phase: connect, waiting for headers, or body. An
   * AbortSignal, or a {@link Cancellation} (the proxy's, cheaper to create per request).
   */
  signal: AbortSignal | Cancellation;
}

/** The upstream's answer. Any status is a response, not an error (202, 400, 404, 405, 409 …). */
export interface UpstreamResponse {
  status: number;
  /** `responseHeadersForClient` already applied; repeated headers (set-cookie) are repeated pairs. */
  headers: HeaderList;
  /**
   * The response body, streamed as undici delivers it. It errors with an `UpstreamError` (code
   * `TUNNEL_UPSTREAM_RESET`, `…_ABORTED`, `…_CLOSED`, …) when the exchange breaks. Destroying it (or
   * aborting the request's signal) aborts the upstream request and closes its connection.
   */
  body: Readable;
}

/** Sends MCP requests to internal servers over pooled undici connections. */
export interface UpstreamDispatcher {
  /**
   * Sends `req` and resolves once the response headers arrived.
   *
   * @throws UpstreamError for transport failures only; see `UPSTREAM_ERROR_CODES`.
   */
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  /**
   * Stops accepting requests (later calls reject with `TUNNEL_UPSTREAM_CLOSED`), lets in-flight
   * requests finish for the close grace period, then destroys what is left (their bodies error with
   * `TUNNEL_UPSTREAM_CLOSED`). Idempotent; resolves when every connection is closed.
   */
  close(): Promise<void>;
}
