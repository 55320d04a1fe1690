import { ProtocolError, TooLargeError } from './errors';

/**
 * CONTROL messages after the handshake (docs/protocol.md §8): in-band re-authentication.
 * Kept apart from the handshake messages so that the handshake parser stays strict (an unknown type
 * there is an error) while these follow the "ignore what you do not know" rule.
 */

/** gateway → proxy: prove you hold a current secret for this nonce within `deadlineMs`. */
export interface ChallengeMessage {
  type: 'challenge';
  /** base64url of 32 random bytes; never reused. */
  nonce: string;
  /** Why: `requested` (answer to reauth_request) or `secret revoked`. Free text, for logs. */
  reason: string;
  /** Milliseconds the proxy has to answer before the gateway acts (drain, or forget the nonce). */
  deadlineMs: number;
}
/** proxy → gateway: please send me a challenge (my secret changed). */
export interface ReauthRequestMessage {
  type: 'reauth_request';
}
/** proxy → gateway: the proof for the latest challenge (same HMAC as the handshake). */
export interface ReauthMessage {
  type: 'reauth';
  proof: string;
}
/** gateway → proxy: outcome of a `reauth`. */
export interface ReauthResultMessage {
  type: 'reauth_result';
  ok: boolean;
  reason: string;
}

export type SessionControlMessage = ChallengeMessage | ReauthRequestMessage | ReauthMessage | ReauthResultMessage;

/** The largest `deadlineMs` accepted (one day); anything larger is a malformed message. */
const MAX_DEADLINE_MS = 24 * 60 * 60 * 1000;

function text(o: Record<string, unknown>, key: string, what: string, max: number): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length > max) {
    throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `${what}.${key} must be a string of at most ${max} chars`);
  }
  return v;
}

/**
 * Parses a CONTROL payload received after the handshake.
 *
 * Returns null for a JSON object whose `type` is a string this version does not know (the receiver
 * MUST ignore it, protocol.md §8).
 * @throws ProtocolError for oversized, non-JSON, non-object payloads, a missing/non-string `type`,
 *   a known type with missing or ill-typed fields, and the handshake types (hello/auth/ready), which
 *   are never valid after `ready`.
 */
export function parseSessionControl(payload: Buffer, limit: number): SessionControlMessage | null {
  if (payload.length > limit) {
    throw new TooLargeError(`control message of ${payload.length} bytes exceeds limit ${limit}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new ProtocolError('TUNNEL_PROTOCOL_BAD_JSON', 'control message is not valid JSON', { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', 'control message must be a JSON object');
  }
  const o = value as Record<string, unknown>;
  const type = o['type'];
  if (typeof type !== 'string') throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', 'control message.type must be a string');
  switch (type) {
    case 'challenge': {
      const deadlineMs = o['deadlineMs'];
      if (typeof deadlineMs !== 'number' || !Number.isInteger(deadlineMs) || deadlineMs < 0 || deadlineMs > MAX_DEADLINE_MS) {
        throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `challenge.deadlineMs must be an integer in [0, ${MAX_DEADLINE_MS}]`);
      }
      return { type, nonce: text(o, 'nonce', 'challenge', 256), reason: text(o, 'reason', 'challenge', 512), deadlineMs };
    }
    case 'reauth_request':
      return { type };
    case 'reauth':
      return { type, proof: text(o, 'proof', 'reauth', 256) };
    case 'reauth_result': {
      const ok = o['ok'];
      if (typeof ok !== 'boolean') throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', 'reauth_result.ok must be a boolean');
      return { type, ok, reason: text(o, 'reason', 'reauth_result', 512) };
    }
    case 'hello':
    case 'auth':
    case 'ready':
      throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `${type} is only valid during the handshake`);
    default:
      return null;
  }
}
