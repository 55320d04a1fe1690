/**
 * The audit component: one record per request on each hop, written as JSON lines by pino, and a
 * bounded inspector that reads the MCP method, id and tool from a request body as it streams past.
 */
export { AUDIT, AUDIT_MSG, type AuditField } from './fields';
export { AUDIT_ERROR, AUDIT_VERIFY, type AuditErrorCode, type AuditVerifyCode } from './errors';
export {
  AuditChain,
  CHAIN_FIELDS,
  CHECKPOINT_MSG,
  CHECKPOINT_TYPE,
  GENESIS_PREV,
  canonicalJson,
  checkpointSigningInput,
  newChainId,
  recordHash,
  type AuditChainOptions,
  type CheckpointAlg,
  type CheckpointSigner,
} from './chain';
export {
  MIN_AUDIT_HMAC_KEY_BYTES,
  ed25519Signer,
  ed25519Verifier,
  hmacSigner,
  hmacVerifier,
  loadCheckpointSigner,
  loadCheckpointVerifier,
  type CheckpointKeyFiles,
  type CheckpointVerifier,
} from './keys';
export {
  TrailVerifier,
  describeVerifyResult,
  verifyAuditFiles,
  type ChainSummary,
  type LinePosition,
  type VerifyOptions,
  type VerifyProblem,
  type VerifyResult,
} from './verify';
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
  type AuditPolicyDecision,
  type AuditInspection,
  type ProxyAuditRecord,
  type ProxyAuditStart,
} from './records';
export {
  DEFAULT_INSPECT_LIMIT_BYTES,
  MAX_INSPECTED_STRING_CHARS,
  MAX_BATCH_METHODS,
  type McpMessageKind,
  type McpRequestInfo,
  type McpMessageShape,
} from './mcp-info';
export { McpRequestInspector, describeMessage, inspectorTap } from './inspector';
export {
  createAuditLogger,
  closeAuditLogger,
  flushAuditLogger,
  reopenAuditLogger,
  auditChainPosition,
  DEFAULT_CHECKPOINT_EVERY,
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  type AuditChainSettings,
  writeAuditRecord,
  auditSink,
  AuditTrail,
  AUDIT_MAX_BUFFERED_BYTES,
  type AuditLoggerOptions,
} from './audit';
export { RequestAudit, type Clock, type RequestAuditOptions } from './request-audit';
export { BodyCapture, redact, REDACTED, type BodyCaptureConfig } from './body-capture';
