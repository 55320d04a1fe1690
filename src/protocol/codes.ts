/**
 * Numeric codes that cross the wire. They are part of the protocol (docs/protocol.md): never
 * renumber one; add new ones at the end.
 */

/** Frame types (first byte of every frame header). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x2,
  WINDOW_UPDATE: 0x3,
  PING: 0x4,
  GOAWAY: 0x5,
  CONTROL: 0x6,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Frame flags (second byte). */
export const Flag = {
  /** DATA / HEADERS: the sender will send nothing more on this stream. */
  END_STREAM: 0x1,
  /** PING: this is the answer to a PING with the same payload. */
  ACK: 0x1,
} as const;

/** RST_STREAM and GOAWAY error codes. */
export const ErrorCode = {
  NO_ERROR: 0,
  PROTOCOL_ERROR: 1,
  INTERNAL_ERROR: 2,
  FLOW_CONTROL_ERROR: 3,
  /** The stream was not processed at all; the sender of the request may retry it elsewhere. */
  REFUSED_STREAM: 4,
  /** The stream is no longer wanted (client went away, request aborted). */
  CANCEL: 5,
  /** The upstream could not be reached (refused, DNS, TLS, connect timeout). */
  UPSTREAM_UNREACHABLE: 6,
  /** The upstream did not send response headers in time. */
  UPSTREAM_TIMEOUT: 7,
  /** The upstream connection broke after the request was sent. */
  UPSTREAM_RESET: 8,
  /** The proxy refuses to call this target (bad URL, egress policy). */
  UPSTREAM_FORBIDDEN: 9,
  /** A HEADERS or CONTROL payload exceeded the receiver's limit. */
  FRAME_TOO_LARGE: 10,
  /** The connection is being drained or shut down; reconnect soon. */
  SHUTDOWN: 11,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function errorCodeName(code: number): string {
  for (const [name, value] of Object.entries(ErrorCode)) if (value === code) return name;
  return `UNKNOWN_${code}`;
}

/**
 * WebSocket close codes (RFC 6455 private range 4000-4999). The proxy's reconnect policy keys off
 * these: "permanent" codes back off to the long interval, the rest reconnect with normal backoff.
 */
export const CloseCode = {
  /** Normal shutdown or drain of the gateway: reconnect soon, not an error. */
  GOING_AWAY: 4000,
  /** Malformed frame, unexpected message, out-of-order handshake. */
  PROTOCOL_ERROR: 4400,
  /** Wrong proof (wrong or revoked secret). Permanent until the secret changes. */
  AUTH_FAILED: 4401,
  /** The gateway does not know this tunnel id. Permanent. */
  UNKNOWN_TUNNEL: 4404,
  /** The handshake did not complete in time. */
  HANDSHAKE_TIMEOUT: 4408,
  /** A frame or message exceeded a limit. */
  TOO_LARGE: 4413,
  /** No protocol version in common. Permanent. */
  UNSUPPORTED_VERSION: 4426,
  /** Too many connections (per tunnel, per address, or in total). */
  TOO_MANY_CONNECTIONS: 4429,
  /** The peer did not answer heartbeats. */
  HEARTBEAT_TIMEOUT: 4504,
  /** Unexpected internal failure. */
  INTERNAL_ERROR: 4500,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Close codes after which reconnecting with the same credentials cannot succeed. */
export const PERMANENT_CLOSE_CODES: ReadonlySet<number> = new Set<number>([
  CloseCode.AUTH_FAILED,
  CloseCode.UNKNOWN_TUNNEL,
  CloseCode.UNSUPPORTED_VERSION,
]);

export function closeCodeName(code: number): string {
  for (const [name, value] of Object.entries(CloseCode)) if (value === code) return name;
  return String(code);
}
