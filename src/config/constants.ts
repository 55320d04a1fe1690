/** Prefix of every environment variable mcp-tunnel reads. */
export const ENV_PREFIX = 'MCP_TUNNEL_';

/**
 * Smallest accepted tunnel secret, in UTF-8 bytes, on both the gateway (`tunnels[].secrets`) and the
 * proxy (`secret`): 32 bytes, the output size of HMAC-SHA256 (`mcp-tunnel secret generate` makes
 * secrets of 32 random bytes). Shorter secrets are refused at start-up.
 */
export const MIN_SECRET_BYTES = 32;

/** Allowed tunnel ids and server names: they appear in URL paths and log fields. */
export const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** The log levels pino accepts, lowest-volume last. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * How log lines are written: `json` (one pino object per line), `pretty` (for people), or `auto`
 * (pretty when the log stream is a terminal, JSON otherwise).
 */
export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Env var naming the JSON config file (read by the CLI, not by the loaders). */
export const CONFIG_FILE_ENV = `${ENV_PREFIX}CONFIG`;

/** Default of the proxy's `handshakeTimeoutMs` (`MCP_TUNNEL_HANDSHAKE_TIMEOUT_MS`). */
export const DEFAULT_PROXY_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default `limits.resumeWindowMs` of the gateway: how long a broken resumable SSE stream is resumed. */
export const DEFAULT_RESUME_WINDOW_MS = 30_000;
