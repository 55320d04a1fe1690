import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Domain-separation label of the v1 proof; see docs/protocol.md "Handshake". */
const LABEL = 'mcp-tunnel-auth';

export interface ProofInput {
  version: number;
  tunnel: string;
  /** The gateway's nonce exactly as sent (base64url text). */
  nonce: string;
  /** base64url TLS channel binding (RFC 9266 tls-exporter), or '' when not bound to a TLS session. */
  channelBinding: string;
}

/** A fresh 32-byte nonce, base64url. */
export function newNonce(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * HMAC-SHA256(key = UTF-8 secret, message = LABEL ‖ 0x00 ‖ version ‖ 0x00 ‖ tunnel ‖ 0x00 ‖ nonce
 * ‖ 0x00 ‖ channelBinding), base64url without padding. The secret itself never crosses the wire.
 */
export function computeProof(secret: string, input: ProofInput): string {
  const msg = [LABEL, String(input.version), input.tunnel, input.nonce, input.channelBinding].join('\0');
  return createHmac('sha256', secret).update(msg, 'utf8').digest('base64url');
}

/**
 * Index of the secret the proof was made with, or -1. Every secret is tried (no early exit) and
 * compared in constant time, so timing reveals neither which secret matched nor how much of it.
 */
export function matchProof(secrets: readonly string[], proof: string, input: ProofInput): number {
  const given = Buffer.from(proof, 'base64url');
  let match = -1;
  secrets.forEach((secret, i) => {
    const expected = Buffer.from(computeProof(secret, input), 'base64url');
    const ok = given.length === expected.length && timingSafeEqual(given, expected);
    if (ok && match === -1) match = i;
  });
  return match;
}
