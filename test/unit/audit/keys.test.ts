import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUDIT_ERROR } from '../../../src/audit/errors';
import { loadCheckpointSigner, loadCheckpointVerifier } from '../../../src/audit/keys';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-audit-keys-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('checkpoint keys', () => {
  it('no key: no signer, no verifier', () => {
    expect(loadCheckpointSigner({ hmacKeyFile: null, signingKeyFile: null })).toBeNull();
    expect(loadCheckpointVerifier({})).toBeNull();
  });

  it('HMAC: trailing whitespace is not part of the key; signer and verifier agree on the key id', () => {
    const a = loadCheckpointSigner({ hmacKeyFile: file('a', `${'k'.repeat(32)}\n`), signingKeyFile: null });
    const v = loadCheckpointVerifier({ hmacKeyFile: file('b', 'k'.repeat(32)) });
    expect(a?.alg).toBe('hmac-sha256');
    expect(a?.keyId).toBe(v?.keyId);
    const data = Buffer.from('x');
    expect(v?.verify(data, a!.sign(data))).toBe(true);
    expect(v?.verify(data, 'not base64!')).toBe(false);
  });

  it('Ed25519: private key signs, public key (or the private key file) verifies', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const priv = file('priv.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const pub = file('pub.pem', publicKey.export({ type: 'spki', format: 'pem' }));
    const signer = loadCheckpointSigner({ hmacKeyFile: null, signingKeyFile: priv });
    const data = Buffer.from('checkpoint');
    for (const verifier of [loadCheckpointVerifier({ publicKeyFile: pub }), loadCheckpointVerifier({ publicKeyFile: priv })]) {
      expect(verifier?.keyId).toBe(signer?.keyId);
      expect(verifier?.verify(data, signer!.sign(data))).toBe(true);
    }
  });

  it('refuses short HMAC keys, non-Ed25519 keys, both keys and missing files, never quoting key bytes', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const cases: Array<() => unknown> = [
      () => loadCheckpointSigner({ hmacKeyFile: file('short', 'secret-short'), signingKeyFile: null }),
      () => loadCheckpointSigner({ hmacKeyFile: null, signingKeyFile: file('rsa.pem', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' })) }),
      () => loadCheckpointSigner({ hmacKeyFile: null, signingKeyFile: file('junk.pem', 'secret-junk') }),
      () => loadCheckpointSigner({ hmacKeyFile: join(dir, 'a'), signingKeyFile: join(dir, 'b') }),
      () => loadCheckpointVerifier({ publicKeyFile: file('rsa.pub', rsa.publicKey.export({ type: 'spki', format: 'pem' })) }),
      () => loadCheckpointVerifier({ hmacKeyFile: join(dir, 'missing') }),
    ];
    for (const run of cases) {
      let caught: unknown = null;
      try {
        run();
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: AUDIT_ERROR.keyInvalid });
      expect((caught as Error).message).not.toMatch(/secret-/);
    }
  });
});
