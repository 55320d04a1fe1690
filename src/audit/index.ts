/**
 * The audit component: one record per request on each hop, written as JSON lines to an audit
 * destination (a hash chain with signed checkpoints), a bounded inspector that reads the MCP
 * method, id and tool from a request body as it streams past, and `audit verify`.
 *
 * This index exports what other folders use; tests and tools reach the rest through the module
 * files (chain.ts, records.ts, …). `audit verify` (verify.ts) is not in it: a
 * gateway or proxy never verifies, so it does not load it (the CLI's audit command does, lazily).
 */
export { AUDIT_ERROR } from './errors';
export { loadCheckpointSigner, loadCheckpointVerifier, type CheckpointKeyFiles, type CheckpointVerifier } from './keys';
export { auditUpstream, type AuditRecord, type GatewayAuditRecord, type ProxyAuditRecord } from './records';
export { DEFAULT_INSPECT_LIMIT_BYTES } from './mcp-info';
export { McpRequestInspector, describeMessage } from './inspector';
export {
  openAuditDestination,
  type AuditChainSettings,
  type AuditChainPosition,
  type AuditDestination,
  type AuditDestinationOptions,
} from './destination';
export { auditSink, AuditTrail, type AuditObserver } from './trail';
export { RequestAudit } from './request-audit';
export { BodyCapture, type BodyCaptureConfig } from './body-capture';
