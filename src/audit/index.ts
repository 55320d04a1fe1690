/**
 * The audit component: one record per request on each hop, written as JSON lines by pino, and a
 * bounded inspector that reads the MCP method, id and tool from a request body as it streams past.
 */
export { AUDIT, AUDIT_MSG, type AuditField } from './fields';
export { AUDIT_ERROR, type AuditErrorCode } from './errors';
export {
  auditUpstream,
  stripQuery,
  sanitizeAuditRecord,
  MAX_SESSION_ID_CHARS,
  GATEWAY_RECORD_FIELDS,
  PROXY_RECORD_FIELDS,
  type AuditOutcome,
  type AuditSide,
  type AuditResultFields,
  type AuditRecord,
  type AuditStaticFields,
  type GatewayAuditRecord,
  type GatewayAuditStart,
  type ProxyAuditRecord,
  type ProxyAuditStart,
} from './records';
export {
  DEFAULT_INSPECT_LIMIT_BYTES,
  MAX_INSPECTED_STRING_CHARS,
  MAX_BATCH_METHODS,
  type McpMessageKind,
  type McpRequestInfo,
} from './mcp-info';
export { McpRequestInspector, inspectorTap } from './inspector';
export {
  createAuditLogger,
  closeAuditLogger,
  flushAuditLogger,
  writeAuditRecord,
  auditSink,
  AuditTrail,
  AUDIT_MAX_BUFFERED_BYTES,
  type AuditLoggerOptions,
} from './audit';
export { RequestAudit, type Clock, type RequestAuditOptions } from './request-audit';
