/**
 * mcp-tunnel as a library: `require('mcp-tunnel')` (or `import … from 'mcp-tunnel'`).
 *
 * The same pieces the `mcp-tunnel` command wires together, for a program that embeds a gateway or a
 * proxy: load a configuration, open an audit destination, start the component, and close both on
 * shutdown. The caller owns everything it starts (the CLI in src/cli is one such caller):
 *
 * ```ts
 * import { loadProxyConfig, openAuditDestination, startProxy, createLogger } from 'mcp-tunnel';
 *
 * const config = loadProxyConfig({ env: process.env });
 * const logger = createLogger({ level: config.log.level });
 * const audit = openAuditDestination(config.audit.destination, { log: logger });
 * const proxy = startProxy(config, { logger, auditLogger: audit.logger });
 * // … on shutdown:
 * await proxy.close();
 * await audit.close();
 * ```
 *
 * Only what this file exports is the package's API (`package.json` `exports` points here); the
 * folders behind it are internal and may move.
 *
 * @packageDocumentation
 */

/**
 * Starts a gateway from a {@link GatewayConfig}: one HTTP(S) server for MCP clients (`/mcp/{server}`)
 * and proxy tunnel connections (`/tunnel/{id}`). Resolves once listening; `close(graceMs)` drains.
 * Rejects when the server cannot listen (the error's `code` says why).
 */
export { startGateway, type RunningGateway, type GatewayDeps } from './gateway';

/**
 * Starts a proxy from a {@link ProxyConfig}: keeps `connections` authenticated tunnel connections to
 * the gateway and serves their requests against the internal MCP servers, reconnecting with backoff.
 * Returns at once; `ready` resolves on the first authenticated connection, `status$` reports the
 * state, `close(graceMs)` drains.
 */
export { startProxy, type RunningProxy, type ProxyDeps, type ProxyStatus } from './proxy';

/**
 * Configuration loaders: a JSON file, `MCP_TUNNEL_*` environment variables and overrides, validated
 * into typed objects. They throw {@link ConfigError} (`TUNNEL_CONFIG_INVALID`) naming the key and the
 * problem, with secrets masked.
 */
export {
  loadGatewayConfig,
  loadProxyConfig,
  ConfigError,
  CONFIG_INVALID,
  type GatewayConfig,
  type ProxyConfig,
  type AuditConfig,
  type LoadOptions,
} from './config';

/**
 * The audit trail: open the destination the components write records to (a file with a hash chain
 * and signed checkpoints, or stdout/stderr), and verify a trail afterwards (what
 * `mcp-tunnel audit verify` runs).
 */
export {
  openAuditDestination,
  loadCheckpointSigner,
  loadCheckpointVerifier,
  AUDIT_ERROR,
  type AuditDestination,
  type AuditDestinationOptions,
  type AuditChainSettings,
  type AuditRecord,
  type CheckpointKeyFiles,
  type CheckpointVerifier,
} from './audit';
export { verifyAuditFiles, describeVerifyResult, type VerifyOptions, type VerifyProblem, type VerifyResult } from './audit/verify';

/**
 * Errors: every error the library raises on purpose is a {@link TunnelError} with a stable `code`
 * (`TUNNEL_*`, listed in docs/errors.md) and `retryable`. Compare codes with {@link hasCode} rather
 * than classes across versions.
 */
export { TunnelError, hasCode, describeError } from './errors';
export { GatewayError } from './gateway';
export { UpstreamError, UPSTREAM_ERROR_CODES } from './dispatch';

/** The process logger the components expect (pino with the project's field names and redaction). */
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './log';

/** The package version, read from package.json. */
export { VERSION } from './version';
