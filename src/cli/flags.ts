import { CONFIG_FILE_ENV, ENV_PREFIX } from '../config/constants';
import { loadProxyConfig } from '../config/proxy';
import type { ProxyConfig } from '../config/types';
import type { FlagSpec } from './args';

/** Flags shared by the commands that run or check a component (gateway, proxy, doctor). */

export const CONFIG_FLAG: FlagSpec = {
  name: 'config',
  type: 'string',
  valueName: 'FILE',
  env: CONFIG_FILE_ENV,
  doc: 'JSON config file with the keys listed below.',
};

/** The config file from `--config`, else MCP_TUNNEL_CONFIG (empty = unset). */
export function configFile(values: Record<string, unknown>, env: NodeJS.ProcessEnv): string | undefined {
  const flag = values.config;
  if (typeof flag === 'string') return flag;
  const fromEnv = env[CONFIG_FILE_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

export const OPS_LISTEN_FLAG: FlagSpec = {
  name: 'ops-listen',
  type: 'string',
  valueName: 'HOST:PORT',
  env: `${ENV_PREFIX}OPS_LISTEN`,
  doc: 'Serve /healthz, /readyz, /metrics (and on the gateway /status) here (ops.listen; off by default), e.g. 127.0.0.1:9464.',
};

export const LOG_FORMAT_FLAG: FlagSpec = {
  name: 'log-format',
  type: 'string',
  valueName: 'pretty|json',
  env: `${ENV_PREFIX}LOG_FORMAT`,
  doc: 'Log lines for people (pretty) or one JSON object per line (json); default: pretty on a terminal, else json.',
};

export const RECORD_FLAG: FlagSpec = {
  name: 'record',
  type: 'string',
  valueName: 'FILE',
  env: `${ENV_PREFIX}RECORD_FILE`,
  doc: 'Record the forwarded traffic to this JSON Lines file (record.file; docs/replay.md); off by default.',
};

export const PROXY_FLAGS: readonly FlagSpec[] = [
  { name: 'url', type: 'string', valueName: 'URL', env: `${ENV_PREFIX}URL`, doc: 'Gateway tunnel URL, wss://HOST/tunnel/{tunnelId}.' },
  {
    name: 'secret-file',
    type: 'string',
    valueName: 'FILE',
    env: `${ENV_PREFIX}SECRET_FILE`,
    doc: 'File holding the tunnel secret (replaces MCP_TUNNEL_SECRET).',
  },
  CONFIG_FLAG,
  {
    name: 'allow-insecure',
    type: 'boolean',
    env: `${ENV_PREFIX}ALLOW_INSECURE`,
    doc: 'Allow ws:// to a non-loopback host (clear text!).',
  },
  OPS_LISTEN_FLAG,
  LOG_FORMAT_FLAG,
  RECORD_FLAG,
];

/**
 * The proxy's configuration from its flags (as parsed against {@link PROXY_FLAGS}), env and config
 * file: what `proxy` runs with and what `doctor` checks.
 * @throws ConfigError
 */
export function loadProxyFromFlags(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): ProxyConfig {
  const secretFile = values['secret-file'];
  const overrides: Record<string, unknown> = {
    url: values.url,
    // A flag outranks the environment: --secret-file replaces an MCP_TUNNEL_SECRET in the env.
    ...(typeof secretFile === 'string' ? { secretFile, secret: null } : {}),
    allowInsecure: values['allow-insecure'] === true ? true : undefined,
    'ops.listen': values['ops-listen'],
    'log.format': values['log-format'],
    'record.file': values.record,
  };
  return loadProxyConfig({ file: configFile(values, env), env, overrides });
}
