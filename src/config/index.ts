/**
 * Configuration: convict schemas for the gateway and the proxy, loaded from a JSON file, `MCP_TUNNEL_*`
 * env vars and overrides, validated into the shapes in `types.ts`.
 */
export type { GatewayConfig, ClusterConfig, ProxyConfig, FlowConfig, UpstreamTlsConfig, AuditConfig, RecordConfig } from './types';
export { loadGatewayConfig, describeGatewaySchema, ALL_SERVERS } from './gateway';
export { loadProxyConfig, describeProxySchema, isLoopbackHost, SECRET_ENV, SECRET_FILE_ENV } from './proxy';
export type { LoadOptions, ConfigOptionRow } from './loader';
export { ConfigError, CONFIG_INVALID, maskSecret, isSecretKey, type ConfigErrorInit } from './errors';
export { ENV_PREFIX, MIN_SECRET_BYTES, NAME_PATTERN, LOG_LEVELS, LOG_FORMATS, CONFIG_FILE_ENV, DEFAULT_PROXY_HANDSHAKE_TIMEOUT_MS, type LogFormat } from './constants';
export { concernsWatchedFile, watchFileChanges, type WatchOptions } from './watch';
export { readSecretFile } from './secret-file';
export { checkPemCertificates, certificateExpiry, EXPIRY_WARNING_DAYS, type CertificateExpiry } from './certificates';
