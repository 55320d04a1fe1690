import { AUDIT, type AuditField } from './fields';

/** How a request ended: answered (any status), failed on our side, or abandoned by a peer. */
export type AuditOutcome = 'ok' | 'error' | 'aborted';

/** Which hop wrote the record. */
export type AuditSide = 'gateway' | 'proxy';

/** The fields a `RequestAudit` accumulates while the request runs. */
export interface AuditResultFields {
  /** HTTP status sent to the caller (gateway) or received from the upstream (proxy); 0 = none. */
  status: number;
  outcome: AuditOutcome;
  /** Stable error code (`TUNNEL_*`) when `outcome` is not `'ok'`, else null. */
  errorCode: string | null;
  /** Request body bytes received from the caller. */
  bytesIn: number;
  /** Response body bytes sent back to the caller. */
  bytesOut: number;
  /** Wall time from the start of the request to `finish()`, in milliseconds (µs precision). */
  durationMs: number;
}

/**
 * One request seen by the gateway at `/mcp/{server}`. Carries no header values and no
 * credentials: `client` is the configured client *name*, never its API key.
 */
export interface GatewayAuditRecord extends AuditResultFields {
  side: 'gateway';
  rid: string;
  /** Authenticated client name; null when authentication failed or was not reached. */
  client: string | null;
  server: string;
  /** Tunnel the server is routed to; null when the server is unknown. */
  tunnel: string | null;
  /** Tunnel connection that carried the request; null when none was reached. */
  conn: string | null;
  httpMethod: string;
  /** Request path without query string (a query may carry credentials). */
  path: string;
  mcpMethod: string | null;
  jsonrpcId: string | number | null;
  /** `params.name` of a `tools/call`, else null. */
  tool: string | null;
  /** `Mcp-Session-Id`, first 64 characters; an identifier, not a credential, in MCP. */
  sessionId: string | null;
  /**
   * Where `mcpMethod`/`jsonrpcId`/`tool` come from: `complete` = the whole body, decoded and parsed
   * once (the bytes forwarded); `partial` = a prefix of a body over the inspection limit (a member
   * after the cut is not seen); `none` = no body was read (none sent, or refused before reading).
   */
  inspection: AuditInspection;
  /**
   * The request policy's decision (docs/policy.md) and the rule that decided it; null when no
   * policy rule applied to the request.
   */
  policy: AuditPolicyDecision | null;
  /** Hex SHA-256 of the request body as received from the client; null without a body. */
  requestSha256: string | null;
  /**
   * Hex SHA-256 of the response body as received from the upstream (before any `tools/list`
   * filtering); null when no response body arrived.
   */
  responseSha256: string | null;
  /** Only with `audit.bodies.enabled` (docs/audit.md): the request body, parsed and redacted. */
  requestBody?: unknown;
  /** Only with `audit.bodies.enabled`: the response body (JSON, or the SSE stream's messages), redacted. */
  responseBody?: unknown;
  /**
   * Only on an SSE response the gateway could resume (src/gateway/resume/): how many times it was
   * resumed on another tunnel stream. Absent on every other response.
   */
  resumptions?: number;
  /** With `resumptions`: every tunnel connection that carried the response, in order (`conn` is the first). */
  conns?: string[];
}

/** How much of the request body the gateway inspected. */
export type AuditInspection = 'complete' | 'partial' | 'none';

/** A policy decision as recorded: `filtered` = a `tools/list` whose result was filtered. */
export interface AuditPolicyDecision {
  decision: 'allow' | 'deny' | 'filtered';
  /** Rule name (with the pattern that decided, for tool rules), or `session-binding` / `header-check`. */
  rule: string | null;
}

/** One upstream call made by the proxy on behalf of a tunnelled request. */
export interface ProxyAuditRecord extends AuditResultFields {
  side: 'proxy';
  rid: string;
  tunnel: string;
  server: string;
  /** Upstream origin + path; never the query string, fragment or userinfo. */
  upstream: string;
  httpMethod: string;
  status: number;
  /** The egress allowlist's decision when it refused the target (`denied: no rule matches 10.1.2.3:9000`), else null. */
  egress: string | null;
}

export type AuditRecord = GatewayAuditRecord | ProxyAuditRecord;

/** The fields a caller may set on a record (everything except `side` and the result fields). */
export type AuditStaticFields<R extends AuditRecord> = Omit<R, 'side' | keyof AuditResultFields>;

/** What the gateway knows when a request starts; the MCP fields usually arrive later. */
export type GatewayAuditStart = Pick<
  GatewayAuditRecord,
  'rid' | 'client' | 'server' | 'tunnel' | 'httpMethod' | 'path'
> &
  Partial<Pick<GatewayAuditRecord, 'conn' | 'mcpMethod' | 'jsonrpcId' | 'tool' | 'sessionId' | 'inspection' | 'policy' | 'requestSha256' | 'responseSha256' | 'requestBody' | 'responseBody'>>;

/** What the proxy knows when an upstream call starts. */
export type ProxyAuditStart = Omit<AuditStaticFields<ProxyAuditRecord>, 'egress'> & Partial<Pick<ProxyAuditRecord, 'egress'>>;

/** Field order of a gateway record as written. */
export const GATEWAY_RECORD_FIELDS = [
  AUDIT.side,
  AUDIT.requestId,
  AUDIT.client,
  AUDIT.server,
  AUDIT.tunnel,
  AUDIT.connection,
  AUDIT.httpMethod,
  AUDIT.path,
  AUDIT.status,
  AUDIT.outcome,
  AUDIT.errorCode,
  AUDIT.mcpMethod,
  AUDIT.jsonrpcId,
  AUDIT.tool,
  AUDIT.sessionId,
  AUDIT.inspection,
  AUDIT.policy,
  AUDIT.requestSha256,
  AUDIT.responseSha256,
  AUDIT.requestBody,
  AUDIT.responseBody,
  AUDIT.resumptions,
  AUDIT.conns,
  AUDIT.bytesIn,
  AUDIT.bytesOut,
  AUDIT.durationMs,
] as const satisfies readonly (keyof GatewayAuditRecord)[];

/** Field order of a proxy record as written. */
export const PROXY_RECORD_FIELDS = [
  AUDIT.side,
  AUDIT.requestId,
  AUDIT.tunnel,
  AUDIT.server,
  AUDIT.upstream,
  AUDIT.httpMethod,
  AUDIT.status,
  AUDIT.outcome,
  AUDIT.errorCode,
  AUDIT.egress,
  AUDIT.bytesIn,
  AUDIT.bytesOut,
  AUDIT.durationMs,
] as const satisfies readonly (keyof ProxyAuditRecord)[];

// Compile-time guarantees: the constant lists name every key of the record types, and the AUDIT
// map (minus the `audit` marker) names exactly the union of both. Adding a field to an interface
// without a constant (or the reverse) fails the type check here.
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type _GatewayFieldsComplete = Assert<Equal<(typeof GATEWAY_RECORD_FIELDS)[number], keyof GatewayAuditRecord>>;
export type _ProxyFieldsComplete = Assert<Equal<(typeof PROXY_RECORD_FIELDS)[number], keyof ProxyAuditRecord>>;
export type _AuditMapComplete = Assert<
  Equal<Exclude<AuditField, typeof AUDIT.audit>, keyof GatewayAuditRecord | keyof ProxyAuditRecord>
>;

/** Longest `sessionId` kept in a record. */
export const MAX_SESSION_ID_CHARS = 64;

/** Removes the query string and fragment of a request path (they may carry credentials). */
export function stripQuery(path: string): string {
  const cut = path.search(/[?#]/);
  return cut < 0 ? path : path.slice(0, cut);
}

/**
 * Reduces an upstream URL to origin + path: no userinfo, query string or fragment, any of which
 * may carry credentials. Never throws; an unparseable URL keeps only its text before `?`/`#`,
 * with anything that looks like userinfo removed.
 */
export function auditUpstream(url: string | URL): string {
  if (typeof url !== 'string') return reduceUpstream(url);
  // A proxy calls the same few upstream URLs over and over, and each request's record reduces its
  // URL twice (when the request starts and when the record is sanitised): remember the answers
  // instead of parsing the URL every time (the function is pure).
  let reduced = upstreamMemo.get(url);
  if (reduced === undefined) {
    reduced = reduceUpstream(url);
    if (upstreamMemo.size >= UPSTREAM_MEMO_SIZE) upstreamMemo.clear();
    upstreamMemo.set(url, reduced);
  }
  return reduced;
}

/** Distinct upstream URLs remembered by {@link auditUpstream} (cleared when full: a bound, not an LRU). */
const UPSTREAM_MEMO_SIZE = 256;
const upstreamMemo = new Map<string, string>();

function reduceUpstream(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url;
    // `origin` is the string "null" for non-special schemes; fall back to protocol + host.
    const origin = u.origin !== 'null' ? u.origin : `${u.protocol}//${u.host}`;
    return origin + u.pathname;
  } catch {
    return stripQuery(String(url)).replace(/\/\/[^/@]*@/, '//');
  }
}

function asText(v: unknown): string {
  return typeof v === 'string' ? v : v instanceof URL ? v.href : '';
}

function truncateSessionId(id: string | null | undefined): string | null {
  if (typeof id !== 'string') return null;
  return id.length > MAX_SESSION_ID_CHARS ? id.slice(0, MAX_SESSION_ID_CHARS) : id;
}

/** Marks a record {@link sanitizeAuditRecord} made (a non-enumerable symbol: no JSON, no pino field). */
const SANITIZED = Symbol('mcp-tunnel.sanitizedAuditRecord');

/** Fields a record carries only when they have a value: never written as null. */
const OPTIONAL_FIELDS: ReadonlySet<string> = new Set([AUDIT.requestBody, AUDIT.responseBody, AUDIT.resumptions, AUDIT.conns]);

/** The documented fields of a record's side, in the order they are written. */
export function auditFieldsOf(record: Readonly<AuditRecord>): readonly string[] {
  return record.side === 'proxy' ? PROXY_RECORD_FIELDS : GATEWAY_RECORD_FIELDS;
}

/**
 * Returns a copy of `record` holding exactly the fields of its side, in the documented order,
 * with `path`/`upstream` stripped of query strings and `sessionId` cut to 64 characters. Anything
 * else a caller attached (headers, say) is dropped. Idempotent: a record this function made and
 * the caller froze is returned as it is (the request's audit sanitises and freezes once when it
 * finishes; the destination does not copy it again). Never throws for a well-typed input.
 */
export function sanitizeAuditRecord<R extends AuditRecord>(record: R): R {
  if ((record as { [SANITIZED]?: true })[SANITIZED] === true && Object.isFrozen(record)) return record;
  const out: Record<string, unknown> = {};
  const proxy = record.side === 'proxy';
  const source = record as unknown as Record<string, unknown>;
  for (const field of auditFieldsOf(record)) {
    const v = source[field];
    // Body fields exist only when body capture is on, resumption fields only on resumable SSE
    // responses; never write them as null otherwise.
    if (v === undefined && OPTIONAL_FIELDS.has(field)) continue;
    if (proxy && field === AUDIT.upstream) out[field] = auditUpstream(asText(v));
    else if (!proxy && field === AUDIT.path) out[field] = stripQuery(asText(v));
    else if (!proxy && field === AUDIT.sessionId) out[field] = truncateSessionId(v as string | null | undefined);
    else out[field] = v ?? null;
  }
  Object.defineProperty(out, SANITIZED, { value: true });
  return out as R;
}
