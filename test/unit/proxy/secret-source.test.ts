import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../../src/log';
import { SecretSource } from '../../../src/proxy/secret-source';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('SecretSource', () => {
  let dir: string;
  let source: SecretSource | null = null;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'secret-source-'));
  });
  afterEach(() => {
    source?.close();
    source = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('re-reads the file: emits only when the secret changed, except on SIGHUP', () => {
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, `${A}\n`);
    source = new SecretSource({ initial: A, file, logger: silentLogger(), debounceMs: 10_000 });
    let changes = 0;
    source.changes$.subscribe(() => (changes += 1));
    source.reload('file changed');
    expect(changes).toBe(0);
    source.reload('SIGHUP'); // an operator's retry, even with the same secret
    expect(changes).toBe(1);
    fs.writeFileSync(file, `${B}\n`);
    source.reload('file changed');
    expect(source.current()).toBe(B);
    expect(changes).toBe(2);
  });

  it('keeps the current secret when the file becomes unreadable or unacceptable', () => {
    const file = path.join(dir, 'secret');
    fs.writeFileSync(file, A);
    source = new SecretSource({ initial: A, file, logger: silentLogger(), debounceMs: 10_000 });
    let changes = 0;
    source.changes$.subscribe(() => (changes += 1));
    fs.writeFileSync(file, 'short');
    source.reload('file changed');
    fs.rmSync(file);
    source.reload('SIGHUP');
    expect(source.current()).toBe(A);
    expect(changes).toBe(0);
  });

  it('a secret from the environment never changes', () => {
    source = new SecretSource({ initial: A, file: null, logger: silentLogger() });
    let changes = 0;
    source.changes$.subscribe(() => (changes += 1));
    source.reload('SIGHUP');
    expect(source.current()).toBe(A);
    expect(changes).toBe(0);
  });
});
