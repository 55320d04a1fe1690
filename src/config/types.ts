/**
 * The validated, resolved configuration objects the components consume. The convict schemas in
 * this folder produce exactly these shapes; components never read env vars or files themselves.
 */

import type { LogFormat } from './constants';
import type { PolicyConfig } from './policy';

export type { PolicyConfig, PolicyRuleConfig, PolicyMatch } from './policy';

/** TLS material for calling an upstream MCP server (file paths, read at start-up). */
export interface UpstreamTlsConfig {
  /** PEM client certificate for mTLS. */
  cert: string | null;
  /** PEM private key for the client certificate. */
  key: string | null;
  /** PEM CA bundle that replaces the system CAs for verifying the upstream. */
  ca: string | null;
  /** Verify the upstream certificate (default true). */
  rejectUnauthorized: boolean;
  /** SNI / certificate host name override (service meshes often need it). */
  servername: string | null;
}

export interface FlowConfig {
  /** Bytes a peer may send on one stream before we grant more (our receive window per stream). */
  streamWindow: number;
  /** Bytes a peer may have outstanding across all streams of one connection. */
  connectionWindow: number;
  /** Largest DATA frame payload we accept. */
  maxFrameSize: number;
}

/** Recording of forwarded traffic (`record`, docs/replay.md), the same for the gateway and the proxy. */
export interface RecordConfig {
  /** The JSON Lines file (parts FILE.1, FILE.2, … past the size cap). */
  file: string;
  /** Servers recorded; null = every server. */
  servers: string[] | null;
  maxFileBytes: number;
  /** Bytes accepted but not yet written before the recorder drops (the burst a slow disk absorbs). */
  queueBytes: number;
  /** Key of the redaction placeholders; null = a random key per recording. */
  hmacKeyFile: string | null;
  /** Redacted besides the built-in credential headers and query parameters. */
  redact: { headers: string[]; queryParams: string[]; pointers: string[]; patterns: string[] };
}

/** Audit trail settings, the same for the gateway and the proxy (docs/audit.md). */
export interface AuditConfig {
  /** `stdout`, `stderr` or a file path. */
  destination: string;
  /**
   * A file destination is written synchronously (true, default: no thread-pool hop per record) or
   * through Node's thread pool with a bounded buffer that drops when the disk stalls (false).
   */
  sync: boolean;
  /** HMAC-SHA256 checkpoint key file; null = none. */
  hmacKeyFile: string | null;
  /** PEM Ed25519 private key file for checkpoints; null = none. At most one of the two is set. */
  signingKeyFile: string | null;
  checkpoint: {
    /** A checkpoint every this many records (0 = off). */
    every: number;
    /** A checkpoint this often, in ms, when records were written (0 = off). */
    intervalMs: number;
  };
  /** Optional body capture in gateway records (the loader always sets it; off by default). */
  bodies?: {
    enabled: boolean;
    maxBytes: number;
    /** Dot paths (with `*`) replaced by "[redacted]" in captured bodies. */
    redact: string[];
  };
}

/** JWT signature algorithms the gateway verifies (asymmetric only: never `none` or HS*). */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** Which servers a JWT-authenticated client may call: a rule matches on a scope, or a claim value. */
export interface JwtServerRule {
  /** Matches when the token's scopes include this scope. */
  scope?: string;
  /** Matches when this claim equals `value` (or, for an array claim, contains it). */
  claim?: string;
  value?: string | number | boolean;
  /** Server names granted (the loader expands `"*"` to every declared server). */
  servers: string[];
}

/** OAuth 2.1 bearer JWT verification (docs/policy.md "Client authentication"). */
export interface JwtAuthConfig {
  /** Expected `iss`, compared exactly. */
  issuer: string;
  /** Accepted `aud` values; a token must name at least one. */
  audience: string[];
  /** JWKS URL (https, or http on loopback); exactly one of jwksUrl and jwksFile is set. */
  jwksUrl: string | null;
  /** JWKS file (absolute once loaded). */
  jwksFile: string | null;
  /** Tolerance for `exp`, `nbf`, `iat`, in seconds. */
  clockSkewSec: number;
  algorithms: JwtAlgorithm[];
  /** Claim that names the client (its identity name). */
  clientClaim: string;
  /** Claim that holds the scopes: a space-separated string or an array of strings. */
  scopeClaim: string;
  /** How long a fetched JWKS is used before it is fetched again. */
  jwksCacheSec: number;
  /** Least time between two fetches caused by a token with an unknown `kid`. */
  jwksRefetchSec: number;
  servers: JwtServerRule[];
}

export interface GatewayAuthConfig {
  /**
   * Public base URL of the gateway (e.g. `https://gw.example.com`) for protected resource metadata
   * and `WWW-Authenticate`; null = derived from the request's Host.
   */
  resource: string | null;
  /** Null = no JWTs (API keys only). */
  jwt: JwtAuthConfig | null;
}

/** `cluster` (docs/cluster.md): all four are set when the cluster is on. */
export interface ClusterConfig {
  /** redis:// or rediss:// URL (may hold a password: never logged). */
  redis: string;
  /** http(s)://HOST:PORT other replicas dial for the internal hop (no trailing slash). */
  advertise: string;
  /** HOST:PORT this replica's internal-hop listener binds. */
  listen: string;
  /** File with the cluster secret (read at start and on reload). */
  secretFile: string;
}

export interface GatewayConfig {
  listen: { host: string; port: number };
  /**
   * Host names (`name` or `name:port`) MCP requests may be addressed to; empty or absent = only
   * loopback names on a loopback listener, any Host otherwise (the loader always sets it).
   */
  allowedHosts?: string[];
  /** Browser origins allowed besides the gateway's own (`*` = any); absent = none (the loader always sets it). */
  allowedOrigins?: string[];
  /** Paths to PEM files; null = plain HTTP/ws (loopback, or behind a TLS-terminating load balancer). */
  tls: { cert: string; key: string } | null;
  tunnels: Array<{ id: string; secrets: string[] }>;
  servers: Array<{ name: string; tunnel: string; url: string }>;
  /**
   * MCP clients with API keys. Each has exactly one of `apiKey` (plain, development only) and
   * `apiKeySha256` (lower-case hex SHA-256 of the key); configs built in code may use either.
   */
  clients: Array<{ name: string; apiKey?: string; apiKeySha256?: string; servers: string[] }>;
  /** Client authentication besides API keys (the loader always sets it; default: API keys only). */
  auth?: GatewayAuthConfig;
  limits: {
    /** Largest request body forwarded; larger ones get 413. */
    maxRequestBodyBytes: number;
    /** How long a request waits for a tunnel connection before 503. */
    connectWaitMs: number;
    /** An unauthenticated tunnel connection is closed after this. */
    handshakeTimeoutMs: number;
    /** Concurrent streams the gateway opens on one tunnel connection (the proxy may ask for fewer). */
    maxStreamsPerConnection: number;
    /** Largest HEADERS / CONTROL frame payload accepted. */
    maxHeaderBytes: number;
    /** Unauthenticated tunnel connections one source address may hold (more: HTTP 429 at the upgrade). */
    maxUnauthenticatedPerAddress: number;
    /** Unauthenticated tunnel connections held in total (more: HTTP 429 at the upgrade). */
    maxUnauthenticated: number;
    /** Failed tunnel connection attempts accepted per tunnel and source address in any 60 s window (more: HTTP 429). */
    connectAttemptsPerMinute: number;
    /** GET streams one client identity may hold open (more: 429); the loader always sets it; default 10,000. */
    maxOpenStreamsPerClient?: number;
    /** How long a broken resumable SSE stream is resumed before the client is cut (0 = off); the loader always sets it; default 30 s. */
    resumeWindowMs?: number;
  };
  flow: FlowConfig;
  heartbeat: { intervalMs: number };
  /** SIGTERM grace for in-flight requests (the loader always sets it; default 30 s). */
  drainGraceMs?: number;
  /** Hot secret rotation (docs/operations.md "Rotating a tunnel secret"). */
  rotation: {
    /** Time a connection whose secret was removed has to re-authenticate in-band before it is drained. */
    graceMs: number;
  };
  /** The ops listener, `HOST:PORT` or null (off); the loader always sets it. */
  ops?: { listen: string | null };
  /** Gateway replicas sharing tunnels through Redis (docs/cluster.md); null or absent = a single gateway. */
  cluster?: ClusterConfig | null;
  /** `format` is always set by the loaders; absent (hand-built configs) means `auto`. */
  log: { level: string; format?: LogFormat };
  audit: AuditConfig;
  /** Request policy (docs/policy.md); the loader always sets it; configs built in code may leave it out (no rules). */
  policy?: PolicyConfig;
  /** Recording (docs/replay.md); null/absent = off. */
  record?: RecordConfig | null;
}

export interface ProxyConfig {
  /** `wss://HOST[:PORT]/tunnel/{tunnelId}` (or `ws://` on loopback / with allowInsecure). */
  url: string;
  /** The tunnel id, taken from the URL path. */
  tunnelId: string;
  /** The shared secret, resolved from MCP_TUNNEL_SECRET or MCP_TUNNEL_SECRET_FILE. Never log it. */
  secret: string;
  /** Where the secret came from, if a file (watched for rotation later). */
  secretFile: string | null;
  /** Extra CA (PEM path) trusted for the gateway's certificate, in addition to the system CAs. */
  caFile: string | null;
  /**
   * SHA-256 pins of the gateway certificate's SubjectPublicKeyInfo, normalised to lower-case hex
   * (`MCP_TUNNEL_PIN_SHA256` accepts hex or base64). Empty = no pinning; several = rollover.
   */
  pins: string[];
  /** Refuse a wss:// gateway that announces no TLS channel binding (`MCP_TUNNEL_REQUIRE_CHANNEL_BINDING`). */
  requireChannelBinding: boolean;
  allowInsecure: boolean;
  /** Name this proxy reports to the gateway (defaults to the host name). */
  name: string;
  /**
   * Reconnect backoff: full jitter from `baseMs` doubling up to `capMs`; the attempt count resets
   * only after a session stayed authenticated for `stableMs` (the loader always sets it; configs
   * built in code may leave it out: 10 s).
   */
  reconnect: { baseMs: number; capMs: number; stableMs?: number };
  /** Tunnel connections this proxy keeps to the gateway (1–16), each with its own backoff. */
  connections: number;
  /** How long `close()` (SIGTERM) waits for in-flight requests after GOAWAY before closing. */
  drainGraceMs: number;
  /**
   * Time allowed to open a tunnel connection (TCP + TLS + WebSocket upgrade), and again for the
   * tunnel handshake; a silent peer fails with TUNNEL_DIAL_TIMEOUT / TUNNEL_HANDSHAKE_TIMEOUT. The
   * loader always sets it; configs built in code may leave it out: {@link DEFAULT_PROXY_HANDSHAKE_TIMEOUT_MS}.
   */
  handshakeTimeoutMs?: number;
  /** A connection older than this (±10% jitter) is replaced make-before-break; 0 = never. */
  maxConnectionAgeMs: number;
  heartbeat: { intervalMs: number };
  limits: { maxStreams: number; maxHeaderBytes: number };
  flow: FlowConfig;
  upstream: {
    /** Global TLS settings for https upstreams. */
    tls: UpstreamTlsConfig;
    /** Per-server TLS overrides, keyed by the server name the gateway sends. */
    servers: Record<string, { tls: UpstreamTlsConfig }>;
    /** Time allowed for the upstream to send response headers (0 = none). Bodies never time out. */
    headersTimeoutMs: number;
    connectTimeoutMs: number;
    /** Max pooled connections per upstream origin for requests (everything but GET). */
    connectionsPerOrigin: number;
    /**
     * Max connections per upstream origin for GET (long-lived SSE) streams, a pool of its own so
     * streams never take the connections requests need; the loader always sets it; default 16,384.
     */
    streamConnectionsPerOrigin?: number;
    /**
     * Egress allowlist rules (`MCP_TUNNEL_ALLOW`), validated at load; empty = every target allowed.
     * See `src/dispatch/egress.ts` for the syntax and semantics.
     */
    allow: string[];
  };
  /** The ops listener, `HOST:PORT` or null (off); the loader always sets it. */
  ops?: { listen: string | null };
  /** `format` is always set by the loaders; absent (hand-built configs) means `auto`. */
  log: { level: string; format?: LogFormat };
  audit: AuditConfig;
  /** Recording (docs/replay.md); null/absent = off. */
  record?: RecordConfig | null;
}
