import { createHash, createHmac, createPrivateKey, createPublicKey, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import { TunnelError } from '../errors';
import type { CheckpointAlg, CheckpointSigner } from './chain';
import { AUDIT_ERROR } from './errors';

/** Smallest HMAC key accepted for checkpoints, in bytes (the SHA-256 block of security). */
export const MIN_AUDIT_HMAC_KEY_BYTES = 32;

/** Checks checkpoint signatures (the verifier's side of a `CheckpointSigner`). */
export interface CheckpointVerifier {
  readonly alg: CheckpointAlg;
  readonly keyId: string;
  /** Whether `sig` (base64) is a valid signature of `data`; false for malformed input, never throws. */
  verify(data: Buffer, sig: string): boolean;
}

/** Where the checkpoint key of a writer comes from (at most one may be set). */
export interface CheckpointKeyFiles {
  hmacKeyFile: string | null;
  signingKeyFile: string | null;
}

function keyError(what: string, file: string, cause?: unknown): TunnelError {
  return new TunnelError(AUDIT_ERROR.keyInvalid, `${what} (${file})`, cause === undefined ? {} : { cause });
}

function readKeyFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw keyError(`cannot read the key file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, file, err);
  }
}

/** The HMAC key in a file: its bytes without trailing whitespace (an editor's newline is not key). */
function readHmacKey(file: string): Buffer {
  const raw = readKeyFile(file);
  let end = raw.length;
  while (end > 0 && /\s/.test(String.fromCharCode(raw[end - 1] ?? 0))) end--;
  const key = raw.subarray(0, end);
  if (key.length < MIN_AUDIT_HMAC_KEY_BYTES) {
    throw keyError(`HMAC key must be at least ${MIN_AUDIT_HMAC_KEY_BYTES} bytes (it has ${key.length})`, file);
  }
  return key;
}

function hmacKeyId(key: Buffer): string {
  // Keyed, so the id says nothing about the key, even for a weak one.
  return createHmac('sha256', key).update('mcp-tunnel audit key id').digest('hex').slice(0, 16);
}

function publicKeyId(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

function decodeSig(sig: string): Buffer | null {
  return /^[A-Za-z0-9+/]+={0,2}$/.test(sig) ? Buffer.from(sig, 'base64') : null;
}

/** An HMAC-SHA256 signer. */
export function hmacSigner(key: Buffer): CheckpointSigner {
  const keyId = hmacKeyId(key);
  return { alg: 'hmac-sha256', keyId, sign: (data) => createHmac('sha256', key).update(data).digest('base64') };
}

/** An HMAC-SHA256 verifier (the same key as the signer). */
export function hmacVerifier(key: Buffer): CheckpointVerifier {
  const keyId = hmacKeyId(key);
  return {
    alg: 'hmac-sha256',
    keyId,
    verify: (data, sig) => {
      const given = decodeSig(sig);
      const expected = createHmac('sha256', key).update(data).digest();
      return given !== null && given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/** An Ed25519 signer. @throws TunnelError `TUNNEL_AUDIT_KEY_INVALID` when the key is not Ed25519. */
export function ed25519Signer(privateKey: KeyObject): CheckpointSigner {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new TunnelError(AUDIT_ERROR.keyInvalid, 'the signing key is not an Ed25519 private key');
  }
  const keyId = publicKeyId(createPublicKey(privateKey));
  return { alg: 'ed25519', keyId, sign: (data) => sign(null, data, privateKey).toString('base64') };
}

/** An Ed25519 verifier. @throws TunnelError `TUNNEL_AUDIT_KEY_INVALID` when the key is not Ed25519. */
export function ed25519Verifier(publicKey: KeyObject): CheckpointVerifier {
  if (publicKey.asymmetricKeyType !== 'ed25519') {
    throw new TunnelError(AUDIT_ERROR.keyInvalid, 'the public key is not an Ed25519 key');
  }
  const key = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  return {
    alg: 'ed25519',
    keyId: publicKeyId(key),
    verify: (data, sig) => {
      const given = decodeSig(sig);
      if (given === null) return false;
      try {
        return verify(null, data, key, given);
      } catch {
        return false;
      }
    },
  };
}

/**
 * The checkpoint signer configured by `audit.hmacKeyFile` or `audit.signingKeyFile` (PEM Ed25519
 * private key), or null when neither is set (checkpoints off).
 *
 * @throws TunnelError `TUNNEL_AUDIT_KEY_INVALID` when both are set, or the file is unreadable,
 *   too short (HMAC) or not an Ed25519 private key. The message names the file, never key bytes.
 */
export function loadCheckpointSigner(files: CheckpointKeyFiles): CheckpointSigner | null {
  const { hmacKeyFile, signingKeyFile } = files;
  if (hmacKeyFile !== null && signingKeyFile !== null) {
    throw new TunnelError(AUDIT_ERROR.keyInvalid, 'set audit.hmacKeyFile or audit.signingKeyFile, not both');
  }
  if (hmacKeyFile !== null) return hmacSigner(readHmacKey(hmacKeyFile));
  if (signingKeyFile === null) return null;
  let key: KeyObject;
  try {
    key = createPrivateKey(readKeyFile(signingKeyFile));
  } catch (err) {
    if (err instanceof TunnelError) throw err;
    throw keyError('not a PEM private key', signingKeyFile, err);
  }
  try {
    return ed25519Signer(key);
  } catch (err) {
    throw keyError('not an Ed25519 private key', signingKeyFile, err);
  }
}

/**
 * The verifier for `mcp-tunnel audit verify`: the HMAC key file, or a PEM Ed25519 public key (a
 * private key file is accepted too; only its public half is used).
 *
 * @throws TunnelError `TUNNEL_AUDIT_KEY_INVALID` like `loadCheckpointSigner`.
 */
export function loadCheckpointVerifier(files: { hmacKeyFile?: string; publicKeyFile?: string }): CheckpointVerifier | null {
  if (files.hmacKeyFile !== undefined) return hmacVerifier(readHmacKey(files.hmacKeyFile));
  if (files.publicKeyFile === undefined) return null;
  const pem = readKeyFile(files.publicKeyFile);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw keyError('not a PEM public key', files.publicKeyFile, err);
  }
  try {
    return ed25519Verifier(key);
  } catch (err) {
    throw keyError('not an Ed25519 key', files.publicKeyFile, err);
  }
}
