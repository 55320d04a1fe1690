import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The npm package installs and runs from a packed tarball (issue 11 part 1): `npm pack`, install the
 * tarball into an empty folder, `npx mcp-tunnel --help`, `require('mcp-tunnel')`. Needs `npm run
 * build` first (the tarball ships dist/).
 *
 * No network: the empty folder gets a lockfile made from ours (the tarball plus our production
 * entries, with their integrity hashes), so `npm ci --offline` installs from the cache `npm ci`
 * filled for this repository (decisions.md D29).
 */
const root = path.join(__dirname, '../../..');

interface LockEntry {
  dev?: boolean;
  link?: boolean;
  [key: string]: unknown;
}

function run(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
}

/** package.json and package-lock.json of an app that depends on the tarball and nothing else. */
function writeApp(app: string, tarball: string): void {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  const spec = `file:${path.relative(app, tarball)}`;
  const integrity = `sha512-${createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`;
  const manifest = { name: 'app', version: '1.0.0', private: true, dependencies: { 'mcp-tunnel': spec } };
  const packages: Record<string, unknown> = {
    '': manifest,
    'node_modules/mcp-tunnel': {
      version: pkg.version,
      resolved: spec,
      integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      optionalDependencies: pkg.optionalDependencies,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  // Our production dependency tree, as npm laid it out for us (dev-only entries dropped).
  for (const [key, entry] of Object.entries(lock.packages)) if (key !== '' && entry.dev !== true && entry.link !== true) packages[key] = entry;
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify(manifest, null, 2));
  fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify({ name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
}

describe('npm package (pack, install, run)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-pack-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('packs what an operator needs, installs offline into an empty folder, and runs', () => {
    const name = run('npm', ['pack', '--pack-destination', dir, '--silent'], root).trim().split('\n').pop()!;
    const tarball = path.join(dir, name);
    const files = run('tar', ['tzf', tarball], dir).split('\n');
    for (const f of ['package/dist/index.js', 'package/dist/cli/main.js', 'package/LICENSE', 'package/README.md', 'package/CHANGELOG.md', 'package/config/gateway.json', 'package/config/proxy.env', 'package/config/systemd/mcp-tunnel-proxy.service']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^package\/(src|test)\//.test(f))).toEqual([]);

    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    writeApp(app, tarball);
    run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], app);

    const help = run('npx', ['--no-install', 'mcp-tunnel', '--help'], app);
    expect(help).toMatch(/^Usage: mcp-tunnel <command>/);
    expect(run('npx', ['--no-install', 'mcp-tunnel', '--version'], app).trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
    const exported = run('node', ['-e', "const m = require('mcp-tunnel'); process.stdout.write(JSON.stringify([typeof m.startProxy, typeof m.startGateway]))"], app);
    expect(JSON.parse(exported)).toEqual(['function', 'function']);
    const imported = run('node', ['--input-type=module', '-e', "import { startProxy, startGateway } from 'mcp-tunnel'; process.stdout.write(typeof startProxy + ' ' + typeof startGateway)"], app);
    expect(imported).toBe('function function');
  }, 120_000);
});
