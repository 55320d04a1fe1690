import type convict from 'convict';
import * as fs from 'node:fs';
import { JWT_ALGORITHMS, type GatewayConfig, type JwtAuthConfig } from './types';
import { DEFAULT_RESUME_WINDOW_MS, ENV_PREFIX } from './constants';
import { recordSchema, resolveRecord, type RecordRaw } from './record';
import { ConfigError } from './errors';
import { auditSchema, flowSchema, heartbeatSchema, logSchema, opsSchema, resolveAudit, streamLimitSchema } from './common';
import { POLICY_ANY, resolvePolicyRules } from './policy';
import { clusterSchema, resolveCluster, type RawCluster } from './cluster';
import { checkReadableFile, describeSchema, loadWithSchema, type ConfigOptionRow, type LoadOptions } from './loader';

/** What convict holds before the loader turns it into a GatewayConfig (`tls` is always an object). */
interface GatewayRaw extends Omit<GatewayConfig, 'tls' | 'policy' | 'auth' | 'allowedHosts' | 'allowedOrigins' | 'limits' | 'record' | 'cluster'> {
  record: RecordRaw;
  cluster: RawCluster;
  allowedHosts: string[];
  allowedOrigins: string[];
  limits: Required<GatewayConfig['limits']>;
  tls: { cert: string | null; key: string | null };
  auth: { resource: string | null; jwt: RawJwt | null };
  policy: { rules: Array<Record<string, unknown>>; inspectLimitBytes: number };
}

/** `auth.jwt` as validated by its format (optional keys not yet defaulted). */
type RawJwt = Partial<Omit<JwtAuthConfig, 'audience'>> & Pick<JwtAuthConfig, 'issuer'> & { audience: string | string[] };

/** `"*"` in a client's `servers` grants every declared server. */
export const ALL_SERVERS = '*';

function gatewaySchema(): convict.Schema<GatewayRaw> {
  const streamLimits = streamLimitSchema('Concurrent streams opened on one tunnel connection (the proxy may ask for fewer).');
  return {
    listen: {
      host: {
        doc: 'Address to listen on, for MCP clients (HTTP) and proxies (WebSocket).',
        format: 'mcp-tunnel-text',
        default: '127.0.0.1',
        env: `${ENV_PREFIX}LISTEN_HOST`,
      },
      port: {
        doc: 'Port to listen on; 0 picks a free port.',
        format: 'mcp-tunnel-port',
        default: 8080,
        env: `${ENV_PREFIX}LISTEN_PORT`,
      },
    },
    allowedHosts: {
      doc: 'Host names (optionally with :port) that MCP requests may be addressed to, e.g. the public names behind a load balancer; anything else gets 403 (DNS-rebinding protection). Empty: on a loopback listen.host only loopback names and the listen address are accepted; on any other address every Host is. An entry without a port accepts any port.',
      format: 'mcp-tunnel-allowed-hosts',
      default: [],
      env: `${ENV_PREFIX}ALLOWED_HOSTS`,
    },
    allowedOrigins: {
      doc: 'Browser origins (https://app.example.com) allowed to call the MCP endpoints besides the gateway\'s own origin (the request\'s Host, and auth.resource); a request with any other Origin header (including "null") gets 403. "*" accepts every origin.',
      format: 'mcp-tunnel-allowed-origins',
      default: [],
      env: `${ENV_PREFIX}ALLOWED_ORIGINS`,
    },
    tls: {
      cert: {
        doc: 'PEM certificate chain file for HTTPS/wss. Unset: plain HTTP (loopback, or behind a TLS-terminating load balancer). Relative to the config file.',
        format: 'mcp-tunnel-optional-path',
        default: null,
        env: `${ENV_PREFIX}TLS_CERT`,
      },
      key: {
        doc: 'PEM private key file for tls.cert; set both or neither. Relative to the config file.',
        format: 'mcp-tunnel-optional-path',
        default: null,
        env: `${ENV_PREFIX}TLS_KEY`,
        sensitive: true,
      },
    },
    tunnels: {
      doc: 'Tunnels proxies may open, as a JSON array of {"id", "secrets"}. Every listed secret is accepted (current first, then previous ones during a rotation).',
      format: 'mcp-tunnel-tunnels',
      default: [],
      env: `${ENV_PREFIX}TUNNELS`,
      sensitive: true,
    },
    servers: {
      doc: 'Internal MCP servers, as a JSON array of {"name", "tunnel", "url"}; url is http(s) as seen from the proxy.',
      format: 'mcp-tunnel-servers',
      default: [],
      env: `${ENV_PREFIX}SERVERS`,
    },
    clients: {
      doc: 'MCP clients, as a JSON array of {"name", "apiKeySha256" (hex SHA-256 of the key; recommended) or "apiKey" (plain; development only), "servers"}; servers lists server names, or "*" for all.',
      format: 'mcp-tunnel-clients',
      default: [],
      env: `${ENV_PREFIX}CLIENTS`,
      sensitive: true,
    },
    auth: {
      resource: {
        doc: 'Public base URL of the gateway (e.g. https://gw.example.com) named in OAuth protected resource metadata and WWW-Authenticate. Unset: derived from the request (Host header, and https when the gateway terminates TLS).',
        format: 'mcp-tunnel-optional-url',
        default: null,
        env: `${ENV_PREFIX}AUTH_RESOURCE`,
      },
      jwt: {
        doc: 'OAuth 2.1 bearer JWTs, as a JSON object {"issuer", "audience", "jwksUrl" | "jwksFile", "clockSkewSec", "algorithms", "clientClaim", "scopeClaim", "jwksCacheSec", "jwksRefetchSec", "servers": [{"scope" | "claim", "value"}, "servers"]}; unset: API keys only. See docs/policy.md.',
        format: 'mcp-tunnel-jwt',
        default: null,
        env: `${ENV_PREFIX}AUTH_JWT`,
      },
    },
    limits: {
      maxRequestBodyBytes: {
        doc: 'Largest request body forwarded; larger ones get 413.',
        format: 'mcp-tunnel-positive-int',
        default: 64 * 1024 * 1024,
        env: `${ENV_PREFIX}MAX_REQUEST_BODY_BYTES`,
      },
      connectWaitMs: {
        doc: 'How long a request waits for a tunnel connection before it gets 503.',
        format: 'mcp-tunnel-nat',
        default: 10000,
        env: `${ENV_PREFIX}CONNECT_WAIT_MS`,
      },
      handshakeTimeoutMs: {
        doc: 'A tunnel connection that has not authenticated within this time is closed.',
        format: 'mcp-tunnel-positive-int',
        default: 5000,
        env: `${ENV_PREFIX}HANDSHAKE_TIMEOUT_MS`,
      },
      maxStreamsPerConnection: streamLimits.maxStreams,
      maxHeaderBytes: streamLimits.maxHeaderBytes,
      maxUnauthenticatedPerAddress: {
        doc: 'Tunnel connections one source address may hold before they authenticate; more get HTTP 429 at the upgrade.',
        format: 'mcp-tunnel-positive-int',
        default: 16,
        env: `${ENV_PREFIX}MAX_UNAUTHENTICATED_PER_ADDRESS`,
      },
      maxUnauthenticated: {
        doc: 'Tunnel connections held in total before they authenticate; more get HTTP 429 at the upgrade.',
        format: 'mcp-tunnel-positive-int',
        default: 256,
        env: `${ENV_PREFIX}MAX_UNAUTHENTICATED`,
      },
      connectAttemptsPerMinute: {
        doc: 'Failed tunnel connection attempts (no successful handshake) accepted per tunnel and source address in any 60 s window; beyond it that address gets HTTP 429 with Retry-After for that tunnel. Successful connections are never counted. Cluster-wide in a cluster (docs/cluster.md).',
        format: 'mcp-tunnel-positive-int',
        default: 120,
        env: `${ENV_PREFIX}CONNECT_ATTEMPTS_PER_MINUTE`,
      },
      maxOpenStreamsPerClient: {
        doc: 'Long-lived streams (GET requests: standalone and legacy SSE streams) one client identity may hold open at once, across all servers; more get 429 TUNNEL_TOO_MANY_STREAMS.',
        format: 'mcp-tunnel-positive-int',
        default: 10000,
        env: `${ENV_PREFIX}MAX_OPEN_STREAMS_PER_CLIENT`,
      },
      resumeWindowMs: {
        doc: 'When the tunnel stream carrying a resumable SSE response (events with ids) breaks or its connection drains, how long the gateway keeps the client connected while it resumes the stream upstream with Last-Event-ID through another tunnel connection; 0 turns resumption off.',
        format: 'mcp-tunnel-nat',
        default: DEFAULT_RESUME_WINDOW_MS,
        env: `${ENV_PREFIX}RESUME_WINDOW_MS`,
      },
    },
    flow: flowSchema(),
    heartbeat: heartbeatSchema(),
    rotation: {
      graceMs: {
        doc: 'After a secret is removed from tunnels[].secrets (reload), how long its connections have to re-authenticate in-band with a listed secret before they are drained (no new requests; in-flight ones finish) and closed with 4401.',
        format: 'mcp-tunnel-positive-int',
        default: 60000,
        env: `${ENV_PREFIX}ROTATION_GRACE_MS`,
      },
    },
    drainGraceMs: {
      doc: 'On SIGTERM: after GOAWAY ("reconnect soon") to every proxy, how long in-flight requests may take to finish before the gateway closes.',
      format: 'mcp-tunnel-nat',
      default: 30000,
      env: `${ENV_PREFIX}DRAIN_GRACE_MS`,
    },
    ops: opsSchema(),
    cluster: clusterSchema(),
    log: logSchema(),
    audit: auditSchema(),
    record: recordSchema(),
    policy: {
      rules: {
        doc: 'Request policy rules (docs/policy.md), as a JSON array of {"name", "match": {"client"|"scope"}, "servers", "tools": {"allow", "deny"}, "rateLimit": {"ratePerSec", "burst"}, "maxConcurrent"}.',
        format: 'mcp-tunnel-policy-rules',
        default: [],
        env: `${ENV_PREFIX}POLICY_RULES`,
      },
      inspectLimitBytes: {
        doc: 'When a tool rule applies, the request body is read (up to this many bytes) and checked before it is forwarded; a larger body gets 413.',
        format: 'mcp-tunnel-positive-int',
        default: 64 * 1024,
        env: `${ENV_PREFIX}POLICY_INSPECT_LIMIT_BYTES`,
      },
    },
  };
}

/** Every gateway option: key, env var, default and doc (for `mcp-tunnel gateway --help`). */
export function describeGatewaySchema(): ConfigOptionRow[] {
  return describeSchema(gatewaySchema());
}

function resolveTls(raw: GatewayRaw['tls']): GatewayConfig['tls'] {
  if (raw.cert === null && raw.key === null) return null;
  if (raw.cert === null) throw new ConfigError({ key: 'tls.cert', problem: 'must be set together with tls.key' });
  if (raw.key === null) throw new ConfigError({ key: 'tls.key', problem: 'must be set together with tls.cert' });
  checkReadableFile('tls.cert', raw.cert);
  checkReadableFile('tls.key', raw.key);
  return { cert: raw.cert, key: raw.key };
}

/** Defaults and checks of `auth.jwt` that need the file system or the server list. */
function resolveJwt(raw: RawJwt | null, allServers: readonly string[]): JwtAuthConfig | null {
  if (raw === null) return null;
  if (raw.jwksFile) checkJwksFile(raw.jwksFile);
  const serverNames = new Set(allServers);
  const rules = (raw.servers ?? []).map((rule, i) => {
    rule.servers.forEach((name, j) => {
      if (name !== ALL_SERVERS && !serverNames.has(name)) {
        throw new ConfigError({ key: `auth.jwt.servers[${i}].servers[${j}]`, problem: 'names no declared server', value: name });
      }
    });
    const servers = rule.servers.includes(ALL_SERVERS) ? [...allServers] : [...new Set(rule.servers)];
    return rule.scope !== undefined ? { scope: rule.scope, servers } : { claim: rule.claim, value: rule.value, servers };
  });
  return {
    issuer: raw.issuer,
    audience: typeof raw.audience === 'string' ? [raw.audience] : [...raw.audience],
    jwksUrl: raw.jwksUrl ?? null,
    jwksFile: raw.jwksFile ?? null,
    clockSkewSec: raw.clockSkewSec ?? 60,
    algorithms: raw.algorithms ? [...new Set(raw.algorithms)] : [...JWT_ALGORITHMS],
    clientClaim: raw.clientClaim ?? 'sub',
    scopeClaim: raw.scopeClaim ?? 'scope',
    jwksCacheSec: raw.jwksCacheSec ?? 600,
    jwksRefetchSec: raw.jwksRefetchSec ?? 30,
    servers: rules,
  };
}

/** A JWKS file must be readable JSON with a non-empty `keys` array (each key is checked when used). */
function checkJwksFile(file: string): void {
  checkReadableFile('auth.jwt.jwksFile', file);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new ConfigError({ key: 'auth.jwt.jwksFile', problem: 'is not valid JSON', value: file });
  }
  const keys = typeof parsed === 'object' && parsed !== null ? (parsed as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new ConfigError({ key: 'auth.jwt.jwksFile', problem: 'must hold a JWK set: {"keys": [ ... ]} with at least one key', value: file });
  }
}

/** References between the arrays; the shape of each array was checked by its format. */
function checkReferences(raw: GatewayRaw): void {
  const tunnelIds = new Set(raw.tunnels.map((t) => t.id));
  raw.servers.forEach((server, i) => {
    if (!tunnelIds.has(server.tunnel)) {
      throw new ConfigError({ key: `servers[${i}].tunnel`, problem: 'names no declared tunnel', value: server.tunnel });
    }
  });
  const serverNames = new Set(raw.servers.map((s) => s.name));
  raw.clients.forEach((client, i) => {
    client.servers.forEach((name, j) => {
      if (name !== ALL_SERVERS && !serverNames.has(name)) {
        throw new ConfigError({ key: `clients[${i}].servers[${j}]`, problem: 'names no declared server', value: name });
      }
    });
  });
  raw.policy.rules.forEach((rule, i) => {
    const servers: unknown[] = Array.isArray(rule.servers) ? rule.servers : [];
    servers.forEach((name, j) => {
      if (name !== POLICY_ANY && !serverNames.has(name as string)) {
        throw new ConfigError({ key: `policy.rules[${i}].servers[${j}]`, problem: 'names no declared server', value: name });
      }
    });
  });
}

/**
 * Loads, validates and resolves the gateway configuration. Precedence: defaults < `file` < env
 * (`MCP_TUNNEL_*`) < `overrides`.
 *
 * Relative `tls` paths in the file resolve against the file's folder. `"*"` in a client's `servers`
 * is expanded to every declared server name, so consumers never see it.
 *
 * @throws ConfigError (code `TUNNEL_CONFIG_INVALID`) for the first problem found; its message is safe
 *   to print (secrets masked).
 */
export function loadGatewayConfig(opts: LoadOptions = {}): GatewayConfig {
  const raw = loadWithSchema(gatewaySchema(), opts);
  checkReferences(raw);
  const allServers = raw.servers.map((s) => s.name);
  return {
    listen: { host: raw.listen.host, port: raw.listen.port },
    allowedHosts: [...raw.allowedHosts],
    allowedOrigins: [...raw.allowedOrigins],
    tls: resolveTls(raw.tls),
    tunnels: raw.tunnels.map((t) => ({ id: t.id, secrets: [...t.secrets] })),
    servers: raw.servers.map((s) => ({ name: s.name, tunnel: s.tunnel, url: s.url })),
    clients: raw.clients.map((c) => ({
      name: c.name,
      ...(c.apiKey !== undefined ? { apiKey: c.apiKey } : { apiKeySha256: (c.apiKeySha256 ?? '').toLowerCase() }),
      servers: c.servers.includes(ALL_SERVERS) ? allServers : [...new Set(c.servers)],
    })),
    auth: { resource: raw.auth.resource === null ? null : raw.auth.resource.replace(/\/+$/, ''), jwt: resolveJwt(raw.auth.jwt, allServers) },
    limits: { ...raw.limits },
    flow: { ...raw.flow },
    heartbeat: { ...raw.heartbeat },
    rotation: { ...raw.rotation },
    drainGraceMs: raw.drainGraceMs,
    ops: { listen: raw.ops?.listen ?? null },
    cluster: resolveCluster(raw.cluster),
    log: { ...raw.log },
    audit: resolveAudit(raw.audit),
    record: resolveRecord(raw.record),
    policy: { rules: resolvePolicyRules(raw.policy.rules), inspectLimitBytes: raw.policy.inspectLimitBytes },
  };
}
