import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProxyConfig } from '../../../src/config';
import { spkiSha256 } from '../../../src/connection';

/**
 * The key-pin recipe in docs/operations.md, run as written with the real openssl binary: whatever it
 * prints must be a pin the proxy accepts, and the right one (issue 11: it printed `SHA2-256(stdin)= …`,
 * which the config refused).
 */
const root = path.join(__dirname, '../../..');

function documentedRecipes(): string[] {
  const doc = fs.readFileSync(path.join(root, 'docs/operations.md'), 'utf8');
  const at = doc.indexOf('Compute one from the certificate or from the key:');
  expect(at).toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)```/.exec(doc.slice(at))?.[1] ?? '';
  return block.split('\n').filter((l) => l.startsWith('openssl '));
}

describe('the documented key-pin recipe (real openssl)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pin-recipe-'));
    execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'gateway.key', '-out', 'gateway.crt', '-days', '30', '-subj', '/CN=gw'], { cwd: dir, stdio: 'ignore' });
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every recipe line prints a pin that MCP_TUNNEL_PIN_SHA256 accepts, equal to the certificate\'s SPKI hash', () => {
    const recipes = documentedRecipes();
    expect(recipes.length).toBeGreaterThanOrEqual(2);
    const expected = spkiSha256(new X509Certificate(fs.readFileSync(path.join(dir, 'gateway.crt'))).raw);
    for (const recipe of recipes) {
      const printed = execFileSync('/bin/sh', ['-c', recipe], { cwd: dir, encoding: 'utf8' }).trim();
      const config = loadProxyConfig({ env: { MCP_TUNNEL_URL: 'wss://gw.example/tunnel/corp', MCP_TUNNEL_SECRET: 'x'.repeat(40), MCP_TUNNEL_PIN_SHA256: printed } });
      expect({ recipe, pins: config.pins }).toEqual({ recipe, pins: [expected] });
    }
  });

  it.each([
    ['OpenSSL 3', (hex: string) => `SHA2-256(stdin)= ${hex}`],
    ['OpenSSL 1.1', (hex: string) => `SHA256(stdin)= ${hex}`],
    ['older', (hex: string) => `(stdin)= ${hex}`],
    ['a file name', (hex: string) => `SHA2-256(gw.der)= ${hex}`],
  ])('accepts openssl dgst output (%s) and refuses another digest', (_name, spell) => {
    const hex = 'ab'.repeat(32);
    const env = (pin: string): NodeJS.ProcessEnv => ({ MCP_TUNNEL_URL: 'wss://gw.example/tunnel/corp', MCP_TUNNEL_SECRET: 'x'.repeat(40), MCP_TUNNEL_PIN_SHA256: pin });
    expect(loadProxyConfig({ env: env(spell(hex)) }).pins).toEqual([hex]);
    expect(() => loadProxyConfig({ env: env(`SHA1(stdin)= ${'ab'.repeat(20)}`) })).toThrow(/pins\[0\]: must be a SHA-256/);
  });
});
