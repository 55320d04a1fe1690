import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import type convict from 'convict';
import type { ProxyConfig, UpstreamTlsConfig } from './types';
import { DEFAULT_PROXY_HANDSHAKE_TIMEOUT_MS, ENV_PREFIX, NAME_PATTERN } from './constants';
import { ConfigError } from './errors';
import { auditSchema, flowSchema, heartbeatSchema, logSchema, opsSchema, resolveAudit, streamLimitSchema } from './common';
import { recordSchema, resolveRecord, type RecordRaw } from './record';
import { isValidName, secretProblem } from './checks';
import { normalizePin } from './proxy-formats';
import { checkPemCertificates } from './certificates';
import { checkReadableFile, describeSchema, loadWithSchema, type ConfigOptionRow, type LoadOptions } from './loader';

/** Most tunnel connections one proxy keeps (`connections`). */
export const MAX_CONNECTIONS = 16;

/** What convict holds before the loader turns it into a ProxyConfig. */
interface ProxyRaw extends Omit<ProxyConfig, 'url' | 'tunnelId' | 'secret' | 'upstream' | 'record'> {
  record: RecordRaw;
  url: string | null;
  secret: string | null;
  upstream: Omit<ProxyConfig['upstream'], 'servers'> & {
    servers: Record<string, { tls: Partial<UpstreamTlsConfig> }>;
  };
}

export const SECRET_ENV = `${ENV_PREFIX}SECRET`;
export const SECRET_FILE_ENV = `${ENV_PREFIX}SECRET_FILE`;

function proxySchema(): convict.Schema<ProxyRaw> {
  return {
    url: {
      doc: 'Gateway tunnel URL, wss://HOST[:PORT]/tunnel/{tunnelId}. ws:// only to a loopback host or with allowInsecure.',
      format: 'mcp-tunnel-optional-string',
      default: null,
      env: `${ENV_PREFIX}URL`,
    },
    secret: {
      doc: `The tunnel's shared secret. Prefer ${SECRET_FILE_ENV}: env vars leak into process listings and crash dumps.`,
      format: 'mcp-tunnel-optional-string',
      default: null,
      env: SECRET_ENV,
      sensitive: true,
    },
    secretFile: {
      doc: `File holding the shared secret (trailing whitespace ignored). Exactly one of ${SECRET_ENV} / ${SECRET_FILE_ENV}.`,
      format: 'mcp-tunnel-optional-path',
      default: null,
      env: SECRET_FILE_ENV,
    },
    caFile: {
      doc: "Extra CA (PEM file) trusted for the gateway's certificate, in addition to the system CAs.",
      format: 'mcp-tunnel-optional-path',
      default: null,
      env: `${ENV_PREFIX}CA_FILE`,
    },
    pins: {
      doc:
        "Pin the gateway's public key: comma-separated SHA-256 hashes of its certificate's SubjectPublicKeyInfo, each 64 hex digits " +
        'or base64 (`openssl x509 -in gw.crt -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256`). ' +
        'Checked after normal certificate verification; any one matching is enough (list the next key too for rollover). ' +
        'A mismatch is a permanent error (TUNNEL_PIN_MISMATCH). Needs a wss:// URL.',
      format: 'mcp-tunnel-pins',
      default: [],
      defaultText: '(none)',
      env: `${ENV_PREFIX}PIN_SHA256`,
    },
    requireChannelBinding: {
      doc:
        'Refuse a gateway that does not bind the handshake to the TLS session (tls-exporter, RFC 9266): its TLS is terminated ' +
        'by something in front of it (a load balancer). Needs a wss:// URL.',
      format: 'mcp-tunnel-boolean',
      default: false,
      env: `${ENV_PREFIX}REQUIRE_CHANNEL_BINDING`,
    },
    allowInsecure: {
      doc: 'Allow a ws:// (unencrypted) URL to a non-loopback host. The secret and all traffic cross the network in clear text.',
      format: 'mcp-tunnel-boolean',
      default: false,
      env: `${ENV_PREFIX}ALLOW_INSECURE`,
    },
    name: {
      doc: 'Name this proxy reports to the gateway (logs, audit).',
      format: 'mcp-tunnel-text',
      default: os.hostname(),
      defaultText: 'the host name',
      env: `${ENV_PREFIX}PROXY_NAME`,
    },
    reconnect: {
      baseMs: {
        doc: 'First reconnect delay; doubles per failed attempt (full jitter).',
        format: 'mcp-tunnel-positive-int',
        default: 250,
        env: `${ENV_PREFIX}RECONNECT_BASE_MS`,
      },
      capMs: {
        doc: 'Longest reconnect delay (at least reconnect.baseMs).',
        format: 'mcp-tunnel-positive-int',
        default: 30000,
        env: `${ENV_PREFIX}RECONNECT_CAP_MS`,
      },
      stableMs: {
        doc: 'A session must stay authenticated this long before the reconnect backoff starts again from reconnect.baseMs.',
        format: 'mcp-tunnel-nat',
        default: 10000,
        env: `${ENV_PREFIX}RECONNECT_STABLE_MS`,
      },
    },
    connections: {
      doc: `Tunnel connections kept to the gateway (1-${MAX_CONNECTIONS}); each reconnects on its own, the gateway spreads requests over all.`,
      format: 'mcp-tunnel-positive-int',
      default: 2,
      env: `${ENV_PREFIX}CONNECTIONS`,
    },
    drainGraceMs: {
      doc: 'On SIGTERM: after GOAWAY on every connection, how long in-flight requests may take to finish before the proxy closes.',
      format: 'mcp-tunnel-nat',
      default: 30000,
      env: `${ENV_PREFIX}DRAIN_GRACE_MS`,
    },
    handshakeTimeoutMs: {
      doc:
        'Time allowed to open a tunnel connection (TCP, TLS and the WebSocket upgrade), and again for the tunnel handshake. ' +
        'A gateway address that accepts TCP but never answers (a firewall, a non-TLS service) fails after this (TUNNEL_DIAL_TIMEOUT).',
      format: 'mcp-tunnel-positive-int',
      default: DEFAULT_PROXY_HANDSHAKE_TIMEOUT_MS,
      env: `${ENV_PREFIX}HANDSHAKE_TIMEOUT_MS`,
    },
    maxConnectionAgeMs: {
      doc: 'Replace a tunnel connection older than this (with up to 10% jitter), make-before-break; 0 = never.',
      format: 'mcp-tunnel-nat',
      default: 0,
      env: `${ENV_PREFIX}MAX_CONNECTION_AGE_MS`,
    },
    heartbeat: heartbeatSchema(),
    limits: {
      ...streamLimitSchema('Concurrent streams this proxy accepts on each tunnel connection.'),
    },
    flow: flowSchema(),
    upstream: {
      tls: {
        cert: {
          doc: 'PEM client certificate file for mTLS to https upstreams.',
          format: 'mcp-tunnel-optional-path',
          default: null,
          env: `${ENV_PREFIX}UPSTREAM_CERT`,
        },
        key: {
          doc: 'PEM private key file for upstream.tls.cert.',
          format: 'mcp-tunnel-optional-path',
          default: null,
          env: `${ENV_PREFIX}UPSTREAM_KEY`,
          sensitive: true,
        },
        ca: {
          doc: 'PEM CA bundle file that replaces the system CAs for verifying upstreams.',
          format: 'mcp-tunnel-optional-path',
          default: null,
          env: `${ENV_PREFIX}UPSTREAM_CA`,
        },
        rejectUnauthorized: {
          doc: "Verify the upstream's certificate.",
          format: 'mcp-tunnel-boolean',
          default: true,
          env: `${ENV_PREFIX}UPSTREAM_REJECT_UNAUTHORIZED`,
        },
        servername: {
          doc: 'SNI / certificate host name override for upstreams (service meshes often need it).',
          format: 'mcp-tunnel-optional-string',
          default: null,
          env: `${ENV_PREFIX}UPSTREAM_SERVERNAME`,
        },
      },
      servers: {
        doc: 'Per-server TLS overrides (config file only): {"<server name>": {"tls": {cert, key, ca, rejectUnauthorized, servername}}}. Fields left out inherit upstream.tls.',
        format: 'mcp-tunnel-upstream-servers',
        default: {},
      },
      headersTimeoutMs: {
        doc: 'Time allowed for an upstream to send response headers (0 = no limit). Bodies never time out.',
        format: 'mcp-tunnel-nat',
        default: 300000,
        env: `${ENV_PREFIX}UPSTREAM_HEADERS_TIMEOUT_MS`,
      },
      connectTimeoutMs: {
        doc: 'Time allowed to connect to an upstream.',
        format: 'mcp-tunnel-positive-int',
        default: 10000,
        env: `${ENV_PREFIX}UPSTREAM_CONNECT_TIMEOUT_MS`,
      },
      connectionsPerOrigin: {
        doc: 'Max pooled connections per upstream origin for requests (POST, DELETE, ...; GET streams have their own pool).',
        format: 'mcp-tunnel-positive-int',
        default: 128,
        env: `${ENV_PREFIX}UPSTREAM_CONNECTIONS`,
      },
      streamConnectionsPerOrigin: {
        doc: 'Max connections per upstream origin for GET requests (standalone and legacy SSE streams, each holding one connection for its life); a separate pool, so streams never starve requests.',
        format: 'mcp-tunnel-positive-int',
        default: 16384,
        env: `${ENV_PREFIX}UPSTREAM_STREAM_CONNECTIONS`,
      },
      allow: {
        doc:
          'Egress allowlist (off when empty): comma-separated host names (mcp.internal, *.corp.example), CIDRs ' +
          '(10.0.0.0/8, ::1/128) and either with a port (host:9000, 10.0.0.0/8:9000, [::1]:9000). Checked on the ' +
          'resolved address of every upstream connection; a refused target gets 403.',
        format: 'mcp-tunnel-egress-rules',
        default: [],
        env: `${ENV_PREFIX}ALLOW`,
      },
    },
    ops: opsSchema(),
    log: logSchema(),
    audit: auditSchema(),
    record: recordSchema(),
  };
}

/** Every proxy option: key, env var, default and doc (for `mcp-tunnel proxy --help`). */
export function describeProxySchema(): ConfigOptionRow[] {
  return describeSchema(proxySchema());
}

/** True for `localhost`, 127.0.0.0/8 and ::1 (as `URL.hostname` spells them). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (host.toLowerCase() === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return net.isIPv6(host) && host === '::1';
}

/** Checks the gateway URL and takes the tunnel id from its path. */
function parseTunnelUrl(url: string | null, allowInsecure: boolean): { url: string; tunnelId: string } {
  if (url === null) {
    throw new ConfigError({ key: 'url', problem: `must be set (${ENV_PREFIX}URL or --url)` });
  }
  const bad = (problem: string): ConfigError => new ConfigError({ key: 'url', problem, value: url });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw bad('must be a URL like wss://gateway.example.com/tunnel/{tunnelId}');
  }
  if (parsed.protocol !== 'wss:' && parsed.protocol !== 'ws:') throw bad('must be a ws: or wss: URL');
  if (parsed.username !== '' || parsed.password !== '') throw bad('must not contain credentials (use the secret)');
  if (parsed.search !== '' || parsed.hash !== '') throw bad('must not have a query or fragment');
  const match = /^\/tunnel\/([^/]+)$/.exec(parsed.pathname);
  const tunnelId = match?.[1];
  if (!isValidName(tunnelId)) {
    throw bad(`path must be exactly /tunnel/{tunnelId}, tunnelId matching ${String(NAME_PATTERN)}`);
  }
  if (parsed.protocol === 'ws:' && !allowInsecure && !isLoopbackHost(parsed.hostname)) {
    throw bad(`ws:// (unencrypted) is only allowed to a loopback host; use wss:// or set ${ENV_PREFIX}ALLOW_INSECURE=true`);
  }
  return { url, tunnelId };
}

/** The pins as lower-case hex, without duplicates; pins only make sense on a wss:// URL. */
function resolvePins(raw: ProxyRaw, url: string): string[] {
  const pins = [...new Set(raw.pins.map((p) => normalizePin(p) ?? p))];
  if (pins.length > 0 && !url.startsWith('wss:')) {
    throw new ConfigError({ key: 'pins', problem: 'needs a wss:// url (there is no certificate to pin over ws://)', value: raw.pins });
  }
  return pins;
}

/** The secret from exactly one of `secret` / `secretFile`. */
function resolveSecret(raw: ProxyRaw): string {
  if (raw.secret !== null && raw.secretFile !== null) {
    throw new ConfigError({ key: 'secret', problem: `set either ${SECRET_ENV} or ${SECRET_FILE_ENV}, not both` });
  }
  if (raw.secret !== null) {
    const problem = secretProblem(raw.secret);
    if (problem !== null) throw new ConfigError({ key: 'secret', problem, value: raw.secret });
    return raw.secret;
  }
  if (raw.secretFile === null) {
    throw new ConfigError({ key: 'secret', problem: `must be set: ${SECRET_FILE_ENV} (or --secret-file), or ${SECRET_ENV}` });
  }
  let text: string;
  try {
    text = fs.readFileSync(raw.secretFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError({ key: 'secretFile', problem: `cannot be read (${code})`, value: raw.secretFile });
  }
  // Editors and `echo` add a trailing newline; it is never part of the secret.
  const secret = text.replace(/\s+$/, '');
  const problem = secretProblem(secret);
  if (problem !== null) {
    throw new ConfigError({ key: 'secretFile', problem: `the secret in this file ${problem}`, value: raw.secretFile });
  }
  return secret;
}

function checkTlsFiles(prefix: string, tls: UpstreamTlsConfig): void {
  for (const k of ['cert', 'key', 'ca'] as const) {
    const file = tls[k];
    if (file !== null) checkReadableFile(`${prefix}.${k}`, file);
  }
  if ((tls.cert === null) !== (tls.key === null)) {
    throw new ConfigError({ key: `${prefix}.${tls.cert === null ? 'cert' : 'key'}`, problem: 'cert and key must be set together' });
  }
}

/**
 * Loads, validates and resolves the proxy configuration. Precedence: defaults < `file` < env
 * (`MCP_TUNNEL_*`) < `overrides`.
 *
 * Reads the secret file (trailing whitespace trimmed) and checks that every TLS/CA file is readable.
 * Relative paths in the file resolve against its folder. Per-server `upstream.servers.*.tls` fields
 * that are left out inherit `upstream.tls`.
 *
 * @throws ConfigError (code `TUNNEL_CONFIG_INVALID`) for the first problem found; its message is safe
 *   to print (secrets masked).
 */
export function loadProxyConfig(opts: LoadOptions = {}): ProxyConfig {
  const raw = loadWithSchema(proxySchema(), opts);
  const { url, tunnelId } = parseTunnelUrl(raw.url, raw.allowInsecure);
  const secret = resolveSecret(raw);
  if (raw.reconnect.capMs < raw.reconnect.baseMs) {
    throw new ConfigError({ key: 'reconnect.capMs', problem: 'must be at least reconnect.baseMs', value: raw.reconnect.capMs });
  }
  if (raw.connections > MAX_CONNECTIONS) {
    throw new ConfigError({ key: 'connections', problem: `must be at most ${MAX_CONNECTIONS}`, value: raw.connections });
  }
  if (raw.caFile !== null) checkPemCertificates('caFile', raw.caFile);
  const pins = resolvePins(raw, url);
  if (raw.requireChannelBinding && !url.startsWith('wss:')) {
    throw new ConfigError({ key: 'requireChannelBinding', problem: 'needs a wss:// url (there is no TLS session to bind to over ws://)', value: true });
  }

  const tls: UpstreamTlsConfig = { ...raw.upstream.tls };
  checkTlsFiles('upstream.tls', tls);
  const servers: Record<string, { tls: UpstreamTlsConfig }> = {};
  for (const [name, entry] of Object.entries(raw.upstream.servers)) {
    const merged: UpstreamTlsConfig = { ...tls, ...entry.tls };
    checkTlsFiles(`upstream.servers.${name}.tls`, merged);
    servers[name] = { tls: merged };
  }

  return {
    url,
    tunnelId,
    secret,
    secretFile: raw.secretFile,
    caFile: raw.caFile,
    pins,
    requireChannelBinding: raw.requireChannelBinding,
    allowInsecure: raw.allowInsecure,
    name: raw.name,
    reconnect: { ...raw.reconnect },
    connections: raw.connections,
    drainGraceMs: raw.drainGraceMs,
    handshakeTimeoutMs: raw.handshakeTimeoutMs ?? DEFAULT_PROXY_HANDSHAKE_TIMEOUT_MS,
    maxConnectionAgeMs: raw.maxConnectionAgeMs,
    heartbeat: { ...raw.heartbeat },
    limits: { ...raw.limits },
    flow: { ...raw.flow },
    upstream: {
      tls,
      servers,
      headersTimeoutMs: raw.upstream.headersTimeoutMs,
      connectTimeoutMs: raw.upstream.connectTimeoutMs,
      connectionsPerOrigin: raw.upstream.connectionsPerOrigin,
      streamConnectionsPerOrigin: raw.upstream.streamConnectionsPerOrigin,
      allow: [...raw.upstream.allow],
    },
    ops: { listen: raw.ops?.listen ?? null },
    log: { ...raw.log },
    audit: resolveAudit(raw.audit),
    record: resolveRecord(raw.record),
  };
}
