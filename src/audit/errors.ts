/**
 * Stable codes of the audit component. The audit path never throws into a request, so most of
 * these appear only in operational log lines (`code` field); `destinationInvalid` is thrown by
 * `createAuditLogger` at start-up.
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
} as const;

export type AuditErrorCode = (typeof AUDIT_ERROR)[keyof typeof AUDIT_ERROR];
