import { TunnelError } from '../errors';

/** Code of every configuration error: the CLI maps it to exit code 2. */
export const CONFIG_INVALID = 'TUNNEL_CONFIG_INVALID';

/**
 * Field names whose values are secrets (or key material). A value under any of these is always
 * masked in error messages, whatever the caller says; the loaders also mark the keys
 * `sensitive: true` in the convict schemas.
 */
const SECRET_FIELDS: ReadonlySet<string> = new Set(['secret', 'secrets', 'apiKey', 'key']);

/** Shortest secret string whose first characters may be shown (2 of 16+ chars reveals little). */
const MIN_LENGTH_FOR_PREFIX = 16;
const MAX_SHOWN_CHARS = 120;

/** True when `key` (e.g. `tunnels[0].secrets[1]`, `tls.key`) names a secret or contains one. */
export function isSecretKey(key: string): boolean {
  return key
    .split('.')
    .map((segment) => segment.replace(/\[\d+\]/g, ''))
    .some((segment) => SECRET_FIELDS.has(segment));
}

/**
 * Display form of a secret value: `"ab…(32 chars)"` for long strings, `""` for the empty string
 * (nothing to hide, and it explains "must not be empty"), `[redacted]` for anything else.
 */
export function maskSecret(value: unknown): string {
  if (value === '') return '""';
  if (typeof value === 'string' && value.length >= MIN_LENGTH_FOR_PREFIX) {
    return `"${value.slice(0, 2)}…(${value.length} chars)"`;
  }
  return '[redacted]';
}

/** Display form of a non-secret value: JSON, cut to a readable length. */
export function showValue(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}…` : text;
}

export interface ConfigErrorInit {
  /** Config key path, e.g. `listen.port` or `tunnels[0].secrets`. */
  key: string;
  /** What is wrong, phrased to follow the key: `must not be empty`. */
  problem: string;
  /** The offending value; omit when there is none (a missing file, an unknown key). */
  value?: unknown;
  /** Mask the value even if `key` does not look secret (e.g. a whole `tunnels` array). */
  sensitive?: boolean;
  cause?: unknown;
}

/**
 * An invalid configuration. `message` is one line, `KEY: PROBLEM (value: VALUE)`, safe to print and
 * log: `value` is masked for secret keys, so the full secret never appears in it.
 */
export class ConfigError extends TunnelError {
  /** Config key path, e.g. `tunnels[0].secrets`. */
  readonly key: string;
  /** What is wrong with it. */
  readonly problem: string;
  /** Display form of the offending value (masked for secrets); undefined when there is none. */
  readonly value: string | undefined;

  constructor(init: ConfigErrorInit) {
    const hasValue = 'value' in init && init.value !== undefined;
    const masked = init.sensitive === true || isSecretKey(init.key);
    const value = hasValue ? (masked ? maskSecret(init.value) : showValue(init.value)) : undefined;
    super(CONFIG_INVALID, `${init.key}: ${init.problem}${value === undefined ? '' : ` (value: ${value})`}`, {
      cause: init.cause,
    });
    this.name = 'ConfigError';
    this.key = init.key;
    this.problem = init.problem;
    this.value = value;
  }
}
