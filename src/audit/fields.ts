import { F } from '../log/fields';

/**
 * Fixed audit record field names. Operators build retention, dashboards and alerts on these keys,
 * so renaming one is a breaking change. Where a key also exists in operational logs it is taken
 * from `F` in src/log/fields.ts, so that `rid`, `tunnel`, `server`… join across both streams.
 *
 * `records.ts` checks at compile time that these values are exactly the keys of the record types.
 */
export const AUDIT = {
  /** `true` on every line of the audit stream; tells audit lines apart from operational logs. */
  audit: 'audit',
  /** `'gateway'` or `'proxy'`. */
  side: 'side',
  requestId: F.requestId,
  client: F.client,
  server: F.server,
  tunnel: F.tunnel,
  connection: F.connection,
  httpMethod: 'httpMethod',
  /** Gateway request path, query string removed. */
  path: 'path',
  /** Proxy upstream origin + path, query string, fragment and userinfo removed. */
  upstream: 'upstream',
  status: F.status,
  outcome: 'outcome',
  errorCode: 'errorCode',
  mcpMethod: 'mcpMethod',
  jsonrpcId: 'jsonrpcId',
  tool: 'tool',
  sessionId: 'sessionId',
  bytesIn: 'bytesIn',
  bytesOut: 'bytesOut',
  durationMs: F.durationMs,
  /** Gateway: the request policy's decision and the rule that decided it (`{decision, rule}`), or null when no policy applied. */
  policy: 'policy',
  /** Gateway: hex SHA-256 of the request body as received from the client (null without a body). */
  requestSha256: 'requestSha256',
  /** Gateway: hex SHA-256 of the response body as received from the upstream (null if none arrived). */
  responseSha256: 'responseSha256',
  /** Gateway, only with `audit.bodies.enabled`: the request body (parsed, redacted, bounded). */
  requestBody: 'requestBody',
  /** Gateway, only with `audit.bodies.enabled`: the response body (parsed, redacted, bounded). */
  responseBody: 'responseBody',
  /**
   * Gateway: how much of the request body the MCP fields were read from: `complete` (the whole body,
   * parsed once), `partial` (a prefix of a body over the inspection limit), `none` (no body read).
   */
  inspection: 'inspection',
  /** Gateway, on a resumable SSE response: times it was resumed on another tunnel stream. */
  resumptions: F.resumptions,
  /** Gateway, with `resumptions`: the tunnel connections that carried the response, in order. */
  conns: 'conns',
  /** Proxy: the egress allowlist's decision when it refused the target (`denied: no rule matches …`), else null. */
  egress: 'egress',
} as const;

/** Any audit field name. */
export type AuditField = (typeof AUDIT)[keyof typeof AUDIT];

/** The `msg` of every audit record. */
export const AUDIT_MSG = 'audit';
