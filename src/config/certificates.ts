/**
 * Certificate files read at start-up: a CA bundle must be PEM certificates (refused at start, not at
 * the first connection), and a certificate near or past its end is worth a warning at load.
 */
import * as fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { ConfigError } from './errors';
import { checkReadableFile } from './loader';

/** A certificate that ends within this many days is warned about at load (and on reload). */
export const EXPIRY_WARNING_DAYS = 14;

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Checks that `file` is readable and holds at least one PEM certificate, each of which parses.
 * @throws ConfigError (`TUNNEL_CONFIG_INVALID`, exit 2 in the CLI) naming the key and the problem.
 */
export function checkPemCertificates(key: string, file: string): void {
  checkReadableFile(key, file);
  const text = fs.readFileSync(file, 'latin1');
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) {
    const hint = text.includes('PRIVATE KEY') ? ' (it holds a private key: give the CA certificate)' : /^\s*0\x82/.test(text) || text.includes('\u0000') ? ' (it looks like DER: convert with `openssl x509 -inform der -in FILE -out FILE.pem`)' : '';
    throw new ConfigError({ key, problem: `must be a PEM file with at least one "-----BEGIN CERTIFICATE-----" block${hint}`, value: file });
  }
  blocks.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch {
      throw new ConfigError({ key, problem: `certificate ${i + 1} in the file cannot be parsed`, value: file });
    }
  });
}

/** When a certificate ends, and whether that is worth a warning now. */
export interface CertificateExpiry {
  subject: string;
  notAfter: string;
  /** Whole days left (negative once expired). */
  daysLeft: number;
  expired: boolean;
  /** Expired, or ends within {@link EXPIRY_WARNING_DAYS}. */
  warn: boolean;
}

/** The expiry of the first certificate in `pem` (the leaf of a chain), or null when none parses. */
export function certificateExpiry(pem: string | Buffer, nowMs: number = Date.now()): CertificateExpiry | null {
  let x: X509Certificate;
  try {
    x = new X509Certificate(pem);
  } catch {
    return null;
  }
  const end = Date.parse(x.validTo);
  const daysLeft = Math.floor((end - nowMs) / 86_400_000);
  const expired = end < nowMs;
  return { subject: x.subject.replace(/\n/g, ', '), notAfter: x.validTo, daysLeft, expired, warn: expired || daysLeft < EXPIRY_WARNING_DAYS };
}
