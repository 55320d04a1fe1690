import * as fs from 'node:fs';
import { certificateExpiry } from '../config/certificates';
import { CONFIG_INVALID } from '../config/errors';
import type { GatewayConfig, ProxyConfig } from '../config/types';
import { hasCode } from '../errors';
import { F, type Logger } from '../log';
import { VERSION } from '../version';
import { setLogLevel } from './log-level';

/** The URL without anything that could be a credential (user info, query, fragment). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * The one start-up line of a gateway: version, role, where it listens, the tunnels, the limits in
 * force and the ops listener. Warns when no tunnel is configured (nothing can ever connect).
 */
export function logGatewayStartup(log: Logger, config: GatewayConfig, url: string, opsUrl: string | null): void {
  log.info(
    {
      version: VERSION,
      role: 'gateway',
      [F.url]: url,
      tls: config.tls !== null,
      tunnels: config.tunnels.map((t) => t.id),
      servers: config.servers.map((s) => s.name),
      limits: config.limits,
      ops: opsUrl ?? 'off',
      logFormat: config.log.format ?? 'auto',
    },
    'mcp-tunnel started',
  );
  if (config.tunnels.length === 0) {
    log.warn({ [F.hint]: 'add a tunnel to "tunnels" in the config file (then SIGHUP): no proxy can connect until then' }, 'no tunnels configured');
  }
}

/** The one start-up line of a proxy: version, role, the tunnel URL (never the secret), the limits in force and the ops listener. */
export function logProxyStartup(log: Logger, config: ProxyConfig, opsUrl: string | null): void {
  log.info(
    {
      version: VERSION,
      role: 'proxy',
      [F.url]: safeUrl(config.url),
      [F.tunnel]: config.tunnelId,
      proxyName: config.name,
      limits: {
        connections: config.connections,
        ...config.limits,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        drainGraceMs: config.drainGraceMs,
        maxConnectionAgeMs: config.maxConnectionAgeMs,
        egressRules: config.upstream.allow.length,
      },
      pins: config.pins.length,
      caFile: config.caFile ?? 'system CAs only',
      ops: opsUrl ?? 'off',
      logFormat: config.log.format ?? 'auto',
    },
    'mcp-tunnel started',
  );
}

/**
 * SIGHUP on the proxy: read the configuration again for `log.level` (the rest of it needs a restart;
 * the secret file is re-read separately). An invalid configuration keeps the running level.
 */
export function reloadProxyLogLevel(root: Logger, log: Logger, load: () => ProxyConfig): void {
  try {
    setLogLevel(root, load().log.level, 'SIGHUP');
  } catch (err) {
    if (!hasCode(err, CONFIG_INVALID)) throw err;
    log.error({ [F.code]: CONFIG_INVALID, [F.reason]: (err as Error).message }, 'configuration invalid on SIGHUP; keeping the running log level');
  }
}

/**
 * Warns (`TUNNEL_CERT_EXPIRING`) about each certificate file of a proxy that is expired or ends within
 * EXPIRY_WARNING_DAYS: the gateway CA (`caFile`) and the upstream client certificates.
 */
export function warnExpiringProxyCertificates(log: Logger, config: ProxyConfig): void {
  const files = new Map<string, string>();
  if (config.caFile !== null) files.set(config.caFile, 'caFile');
  if (config.upstream.tls.cert !== null) files.set(config.upstream.tls.cert, 'upstream.tls.cert');
  for (const [name, server] of Object.entries(config.upstream.servers)) {
    if (server.tls.cert !== null && !files.has(server.tls.cert)) files.set(server.tls.cert, `upstream.servers.${name}.tls.cert`);
  }
  for (const [file, key] of files) {
    let expiry;
    try {
      expiry = certificateExpiry(fs.readFileSync(file));
    } catch {
      continue; // the loader checked it is readable; a file that vanished since is reported when used
    }
    if (expiry === null || !expiry.warn) continue;
    log.warn(
      { [F.code]: 'TUNNEL_CERT_EXPIRING', setting: key, file, notAfter: expiry.notAfter, daysLeft: expiry.daysLeft, subject: expiry.subject, [F.hint]: `replace ${file} before it ends (then restart the proxy)` },
      expiry.expired ? 'a certificate has expired' : 'a certificate expires soon',
    );
  }
}
