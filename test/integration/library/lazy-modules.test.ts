import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../../helpers/process';

// Idle memory and start-up (issue 10, decisions.md D34): the gateway and the proxy load neither the
// metrics library (only with an ops listener), nor the Redis client (only with `cluster.redis`), nor
// the MCP SDK / zod (the demo's), nor the cluster node (src/cluster, only with `cluster.redis`; the
// proxy uses only spread.ts's header name), nor the whole RxJS bundle (src/rx.ts imports its parts by
// file), nor the replay package or the recorder (only when recording: D77). Checked on the built code, in a fresh process, because a single value import through an
// index module (`'../ops'`, `'rxjs'`) is enough to load them all again.
const CHILD = `
require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'gateway'))});
require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'proxy'))});
const loaded = Object.keys(require.cache);
const has = (part) => loaded.some((f) => f.includes(part));
console.log(JSON.stringify({ promClient: has('/node_modules/prom-client/'), ioredis: has('/node_modules/ioredis/'), cluster: has('/dist/cluster/node'), sdk: has('/node_modules/@modelcontextprotocol/'), zod: has('/node_modules/zod/'), rxjsCommonJs: has('/node_modules/rxjs/dist/cjs/'), rxjsFiles: loaded.filter((f) => f.includes('/node_modules/rxjs/')).map((f) => f.slice(f.indexOf('/node_modules/rxjs/'))), replay: has('/dist/replay/index.js'), recorder: has('/dist/replay/recorder.js') }));
`;

// The CLI's commands module: every command is registered, but replay and doctor load when they run
// (D77), and the metrics (prom-client) only with an ops listener (D88: `status` imports the ops client by file).
const CLI_CHILD = `
require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'cli', 'commands'))});
const loaded = Object.keys(require.cache);
const has = (part) => loaded.some((f) => f.includes(part));
console.log(JSON.stringify({ replay: has('/dist/replay/'), doctor: has('/dist/doctor/'), promClient: has('/node_modules/prom-client/'), metrics: has('/dist/ops/metrics.js') }));
`;

// A proxy's start through the CLI: the command table, the proxy, and its configuration loaded and
// checked. The audit verifier (with node:readline) loads only for \`audit verify\`, the gateway's
// convict formats only when a gateway value is checked (D88).
const PROXY_START_CHILD = `
require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'cli', 'commands'))});
require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'proxy'))});
const { loadProxyConfig } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'config', 'proxy'))});
loadProxyConfig({ env: { MCP_TUNNEL_URL: 'wss://gateway.example/tunnel/t', MCP_TUNNEL_SECRET: 'x'.repeat(32) } });
const loaded = Object.keys(require.cache);
const has = (part) => loaded.some((f) => f.includes(part));
const builtins = process.moduleLoadList.filter((m) => m.startsWith('NativeModule '));
console.log(JSON.stringify({ verify: has('/dist/audit/verify.js'), gatewayFormats: has('/dist/config/gateway-formats.js'), policyRules: has('/dist/config/policy.js'), readline: builtins.includes('NativeModule readline') }));
`;

describe('modules loaded by the gateway and the proxy', () => {
  it('loads no prom-client, ioredis, cluster code, MCP SDK, zod, RxJS CommonJS file or recorder until a feature asks for them', () => {
    const out = execFileSync(process.execPath, ['-e', CHILD], { encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toEqual({ promClient: false, ioredis: false, cluster: false, sdk: false, zod: false, rxjsCommonJs: false, rxjsFiles: ['/node_modules/rxjs/dist/bundles/rxjs.umd.min.js'], replay: false, recorder: false });
  });

  it('the CLI loads the replay package, the doctor and the metrics only when they are used', () => {
    const out = execFileSync(process.execPath, ['-e', CLI_CHILD], { encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toEqual({ replay: false, doctor: false, promClient: false, metrics: false });
  });

  it("a proxy's start loads no audit verifier, readline or gateway configuration checks", () => {
    const out = execFileSync(process.execPath, ['-e', PROXY_START_CHILD], { encoding: 'utf8' });
    expect(JSON.parse(out.trim())).toEqual({ verify: false, gatewayFormats: false, policyRules: false, readline: false });
  });
});
