import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { UpstreamTlsConfig } from '../config/types';
import { UpstreamError, UpstreamErrorCode } from './errors';

/** The TLS options of one upstream agent, PEM material already read. */
export type UpstreamTlsOptions = Pick<ConnectionOptions, 'cert' | 'key' | 'ca' | 'rejectUnauthorized' | 'servername'>;

/**
 * A string that is equal for two {@link UpstreamTlsConfig}s exactly when they produce the same TLS
 * options, so that servers sharing a TLS config share one agent (and its connection pools).
 */
export function tlsConfigKey(cfg: UpstreamTlsConfig): string {
  return JSON.stringify([cfg.cert, cfg.key, cfg.ca, cfg.rejectUnauthorized, cfg.servername]);
}

/**
 * Reads the PEM files of `cfg` (once; called when the dispatcher is created) and returns Node TLS
 * options. `ca`, when set, replaces the system CAs for this upstream.
 *
 * @param scope `"*"` for the global config, else the server name; used in error messages.
 * @throws UpstreamError `TUNNEL_UPSTREAM_TLS_CONFIG` when a file cannot be read, or when only one of
 *   `cert` / `key` is set.
 */
export function loadTlsOptions(cfg: UpstreamTlsConfig, scope: string): UpstreamTlsOptions {
  const where = scope === '*' ? 'upstream.tls' : `upstream.servers.${scope}.tls`;
  if ((cfg.cert === null) !== (cfg.key === null)) {
    throw new UpstreamError(
      UpstreamErrorCode.TlsConfig,
      `${where}: a client certificate needs both "cert" and "key" (only ${cfg.cert === null ? 'key' : 'cert'} is set)`,
      { server: scope, origin: null },
    );
  }
  const read = (field: 'cert' | 'key' | 'ca', path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new UpstreamError(
        UpstreamErrorCode.TlsConfig,
        `${where}.${field}: cannot read PEM file ${path}: ${typeof code === 'string' ? code : String(err)}`,
        { server: scope, origin: null, cause: err, causeCode: typeof code === 'string' ? code : null },
      );
    }
  };
  const options: UpstreamTlsOptions = { rejectUnauthorized: cfg.rejectUnauthorized };
  if (cfg.cert !== null) options.cert = read('cert', cfg.cert);
  if (cfg.key !== null) options.key = read('key', cfg.key);
  if (cfg.ca !== null) options.ca = read('ca', cfg.ca);
  if (cfg.servername !== null && cfg.servername !== '') options.servername = cfg.servername;
  return options;
}
