import type { GatewayAuditRecord } from '../../src/audit/records';

/** A complete gateway audit record for tests (every field set), with `overrides` applied. */
export function gatewayAuditRecord(overrides: Partial<GatewayAuditRecord> = {}): GatewayAuditRecord {
  return {
    side: 'gateway',
    rid: 'r-1',
    client: 'alice',
    server: 'docs',
    tunnel: 'corp',
    conn: 'c-9',
    httpMethod: 'POST',
    path: '/mcp/docs',
    status: 200,
    outcome: 'ok',
    errorCode: null,
    mcpMethod: 'tools/call',
    jsonrpcId: 4,
    tool: 'search',
    sessionId: null,
    inspection: 'complete',
    policy: null,
    requestSha256: null,
    responseSha256: null,
    bytesIn: 120,
    bytesOut: 3400,
    durationMs: 12.5,
    ...overrides,
  };
}
