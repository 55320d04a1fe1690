import { X509Certificate, createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { DialError } from './errors';

/**
 * SHA-256 of a certificate's DER SubjectPublicKeyInfo, lower-case hex: what
 * `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256` prints.
 * (Not `PeerCertificate.pubkey`: for EC keys Node gives the bare curve point there, not the SPKI.)
 */
export function spkiSha256(certDer: Buffer): string {
  const spki = new X509Certificate(certDer).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('hex');
}

/** Hex → base64, for messages: operators may have configured either spelling. */
function bothSpellings(hex: string): string {
  return `${hex} (base64 ${Buffer.from(hex, 'hex').toString('base64')})`;
}

/**
 * Checks the gateway's leaf certificate against the configured pins (lower-case hex SPKI hashes;
 * empty = no pinning). Returns null when one matches, else a permanent `TUNNEL_PIN_MISMATCH`
 * DialError naming the expected pins and the one seen.
 */
export function checkPins(pins: readonly string[], cert: Pick<PeerCertificate, 'raw'> | null | undefined): DialError | null {
  if (pins.length === 0) return null;
  const raw = cert?.raw;
  if (raw === undefined || raw.length === 0) {
    return new DialError('TUNNEL_PIN_MISMATCH', 'the gateway presented no certificate to check against MCP_TUNNEL_PIN_SHA256', { permanent: true });
  }
  const seen = spkiSha256(raw);
  if (pins.includes(seen)) return null;
  return new DialError(
    'TUNNEL_PIN_MISMATCH',
    `the gateway's public key does not match MCP_TUNNEL_PIN_SHA256: expected one of [${pins.join(', ')}], ` +
      `the gateway presented ${bothSpellings(seen)} (SHA-256 of its certificate's SubjectPublicKeyInfo)`,
    { permanent: true },
  );
}
