import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, spawnProcess, stopAllProcesses } from '../../helpers/process';

// The package is loaded BY NAME, from the built dist/, in a child process: Node resolves
// `require('mcp-tunnel')` inside the package through its own package.json `exports` (self-reference),
// exactly as an embedding program resolves it from node_modules.

const ENTRY_JS = path.join(REPO_ROOT, 'dist', 'index.js');
const ENTRY_DTS = path.join(REPO_ROOT, 'dist', 'index.d.ts');

// Starts a gateway and a proxy through the library API, waits until the proxy is authenticated,
// closes both, and prints what it saw as one JSON line.
const CHILD = `
const lib = require('mcp-tunnel');
(async () => {
  const secret = process.env.LIB_TEST_SECRET;
  const logger = lib.silentLogger();
  const gwConfig = lib.loadGatewayConfig({ env: {
    MCP_TUNNEL_LISTEN_HOST: '127.0.0.1',
    MCP_TUNNEL_LISTEN_PORT: '0',
    MCP_TUNNEL_TUNNELS: JSON.stringify([{ id: 'corp', secrets: [secret] }]),
  } });
  const audit = lib.openAuditDestination('stderr', { log: logger });
  const gateway = await lib.startGateway(gwConfig, { logger, auditLogger: audit.logger });
  const pxConfig = lib.loadProxyConfig({ env: {
    MCP_TUNNEL_URL: 'ws://127.0.0.1:' + gateway.port + '/tunnel/corp',
    MCP_TUNNEL_SECRET: secret,
  } });
  const proxy = lib.startProxy(pxConfig, { logger, auditLogger: audit.logger });
  await proxy.ready;
  await proxy.close(1000);
  await gateway.close(1000);
  await audit.close();
  let configError = null;
  try { lib.loadProxyConfig({ env: {} }); } catch (e) {
    configError = { code: e.code, tunnelError: e instanceof lib.TunnelError, hasCode: lib.hasCode(e, lib.CONFIG_INVALID) };
  }
  let deepImport = null;
  try { require('mcp-tunnel/dist/gateway'); } catch (e) { deepImport = e.code; }
  process.stdout.write(JSON.stringify({ exports: Object.keys(lib).sort(), ready: true, configError, deepImport }) + '\\n');
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\\n'); process.exit(1); });
`;

// Type-level use of the package by name: compiled by tsc against dist/index.d.ts.
const TYPE_USE = `
import {
  startGateway, startProxy, loadGatewayConfig, loadProxyConfig, openAuditDestination, verifyAuditFiles, TunnelError,
  type GatewayDeps, type ProxyDeps, type RunningGateway, type RunningProxy, type GatewayConfig, type ProxyConfig,
  type AuditDestination, type VerifyResult,
} from 'mcp-tunnel';
const g: (c: GatewayConfig, d: GatewayDeps) => Promise<RunningGateway> = startGateway;
const p: (c: ProxyConfig, d: ProxyDeps) => RunningProxy = startProxy;
const lg: (o: { env: NodeJS.ProcessEnv }) => GatewayConfig = loadGatewayConfig;
const lp: (o: { env: NodeJS.ProcessEnv }) => ProxyConfig = loadProxyConfig;
const a: (t: string, o: { log: GatewayDeps['logger'] }) => AuditDestination = openAuditDestination;
const v: (files: string[]) => Promise<VerifyResult> = verifyAuditFiles;
const e: (err: unknown) => err is TunnelError = (err): err is TunnelError => err instanceof TunnelError;
export { g, p, lg, lp, a, v, e };
`;

let scratch: string | null = null;

beforeAll(() => {
  if (!existsSync(ENTRY_JS) || !existsSync(ENTRY_DTS)) throw new Error(`${ENTRY_JS} does not exist: run \`npm run build\` first`);
});

afterEach(async () => {
  await stopAllProcesses();
  if (scratch !== null) rmSync(scratch, { recursive: true, force: true });
  scratch = null;
});

describe("the library entry (require('mcp-tunnel'))", () => {
  // package.json main/types used to point at dist/index.js, which nothing produced (issue 9 drift).
  it('package.json main/types point at dist/index.js that the build produces, starting a gateway and a proxy by name', async () => {
    const child = spawnProcess(process.execPath, ['-e', CHILD], {
      cwd: REPO_ROOT,
      cleanEnv: true,
      env: { LIB_TEST_SECRET: randomBytes(32).toString('base64url') },
    });
    const exit = await child.exited;
    const out = child.lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
    expect({ exit, stderr: child.lines.filter((l) => l.stream === 'stderr').map((l) => l.line) }).toEqual({ exit: { code: 0, signal: null }, stderr: [] });
    const result = JSON.parse(out[0] ?? '{}') as { exports: string[]; ready: boolean; configError: unknown; deepImport: unknown };
    expect(result.exports).toEqual(
      expect.arrayContaining(['startGateway', 'startProxy', 'loadGatewayConfig', 'loadProxyConfig', 'openAuditDestination', 'verifyAuditFiles', 'loadCheckpointVerifier', 'TunnelError', 'ConfigError', 'hasCode']),
    );
    expect(result.ready).toBe(true);
    expect(result.configError).toEqual({ code: 'TUNNEL_CONFIG_INVALID', tunnelError: true, hasCode: true });
    // Only the entry is public: the folders behind it may move.
    expect(result.deepImport).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('its type declarations export startGateway, startProxy, the config loaders and their types', async () => {
    // Inside the package (a self-reference only resolves there), removed in afterEach.
    scratch = mkdtempSync(path.join(REPO_ROOT, '.lib-types-'));
    const file = path.join(scratch, 'use.ts');
    writeFileSync(file, TYPE_USE);
    const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', '--skipLibCheck', file];
    const child = spawnProcess(process.execPath, args, { cwd: REPO_ROOT });
    const exit = await child.exited;
    expect({ exit, output: child.lines.map((l) => l.line) }).toEqual({ exit: { code: 0, signal: null }, output: [] });
  });
});
