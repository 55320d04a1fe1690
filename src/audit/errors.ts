/**
 * Stable codes of the audit component. The audit path never throws into a request, so most of
 * these appear only in operational log lines (`code` field); `destinationInvalid` is thrown by
 * `openAuditDestination` at start-up.
 */
export const AUDIT_ERROR = {
  /** An audit record could not be serialised or written; the record is lost, the request is not. */
  writeFailed: 'TUNNEL_AUDIT_WRITE_FAILED',
  /** The audit destination reported an error (could not open the file, disk full, …). */
  destinationFailed: 'TUNNEL_AUDIT_DESTINATION_FAILED',
  /** The configured audit destination is empty. */
  destinationInvalid: 'TUNNEL_AUDIT_DESTINATION_INVALID',
  /** Records were written to an `AuditTrail` with no sink subscribed and were dropped. */
  recordsDropped: 'TUNNEL_AUDIT_RECORDS_DROPPED',
  /** A checkpoint key file (HMAC key, Ed25519 private or public key) is unreadable or unusable. */
  keyInvalid: 'TUNNEL_AUDIT_KEY_INVALID',
} as const;

/**
 * Codes of the problems `mcp-tunnel audit verify` reports (the first one found ends the check).
 * They describe a trail, not a failure of mcp-tunnel, and are never logged by a running service.
 */
export const AUDIT_VERIFY = {
  /** A record's `hash` does not match its content: the record was edited. */
  recordEdited: 'TUNNEL_AUDIT_RECORD_EDITED',
  /** `seq` skips one or more numbers: records were deleted. */
  recordMissing: 'TUNNEL_AUDIT_RECORD_MISSING',
  /** A `seq` appears twice, or `prev` does not link to the record before: a record was inserted or replaced. */
  recordInserted: 'TUNNEL_AUDIT_RECORD_INSERTED',
  /** `seq` goes backwards: records were reordered. */
  recordReordered: 'TUNNEL_AUDIT_RECORD_REORDERED',
  /** A line marked as an audit record is not valid JSON or lacks the chain fields (a truncated last line, say). */
  recordDamaged: 'TUNNEL_AUDIT_RECORD_DAMAGED',
  /** A checkpoint's signature does not verify with the given key (forged, or another key). */
  checkpointInvalid: 'TUNNEL_AUDIT_CHECKPOINT_INVALID',
} as const;

export type AuditVerifyCode = (typeof AUDIT_VERIFY)[keyof typeof AUDIT_VERIFY];

export type AuditErrorCode = (typeof AUDIT_ERROR)[keyof typeof AUDIT_ERROR];
