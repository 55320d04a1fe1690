import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StatusReport } from '../../../src/ops';
import { scrape } from '../../helpers/prometheus';
import { closedPort } from '../../helpers/ports';
import { spawnCli, stopAllProcesses, type SpawnedProcess } from '../../helpers/process';
import { waitFor } from '../../helpers/wait-for';

/**
 * `mcp-tunnel status` and the gateway's `GET /status` (issue 11, part 7), with the built CLI: a real
 * gateway and proxy as child processes (run `npm run build` first).
 */

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-status-it-'));
});

afterEach(async () => {
  await stopAllProcesses();
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeGatewayConfig(secret: string, opsListen: string): string {
  const file = path.join(dir, 'gateway.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      tunnels: [{ id: 'corp', secrets: [randomBytes(32).toString('base64url'), secret] }, { id: 'lab', secrets: [randomBytes(32).toString('base64url')] }],
      servers: [{ name: 'notes', tunnel: 'corp', url: 'http://127.0.0.1:9/mcp' }],
      clients: [{ name: 'alice', apiKey: randomBytes(24).toString('base64url'), servers: ['*'] }],
      ops: { listen: opsListen },
    }),
  );
  return file;
}

async function runStatus(args: readonly string[]): Promise<{ code: number | null; out: string; err: string }> {
  const proc = spawnCli(['status', ...args], { cleanEnv: true });
  const { code } = await proc.exited;
  return { code, out: proc.stdout.join('\n'), err: proc.stderr.join('\n') };
}

async function startPair(): Promise<{ gateway: SpawnedProcess; gwOps: string; pxOps: string; config: string; gatewayUrl: string }> {
  const secret = randomBytes(32).toString('base64url');
  const port = await closedPort();
  const config = writeGatewayConfig(secret, `127.0.0.1:${port}`);
  const gateway = spawnCli(['gateway', '--config', config], { cleanEnv: true });
  const gwOps = String((await gateway.waitForJson((e) => e.msg === 'ops listener ready')).url);
  const gatewayUrl = String((await gateway.waitForJson((e) => e.msg === 'gateway listening')).url);
  const secretFile = path.join(dir, 'secret');
  fs.writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  const proxy = spawnCli(['proxy', '--url', `${gatewayUrl.replace(/^http/, 'ws')}/tunnel/corp`, '--secret-file', secretFile, '--ops-listen', '127.0.0.1:0'], {
    cleanEnv: true,
    env: { MCP_TUNNEL_PROXY_NAME: 'px-one', MCP_TUNNEL_CONNECTIONS: '1' },
  });
  const pxOps = String((await proxy.waitForJson((e) => e.msg === 'ops listener ready')).url);
  await proxy.waitForJson((e) => e.msg === 'tunnel connected and authenticated');
  return { gateway, gwOps, pxOps, config, gatewayUrl };
}

describe('mcp-tunnel status (child processes)', () => {
  it('lists tunnels and connected proxies as a table and as JSON; --config finds ops.listen; /status is not on the public port', async () => {
    const { gwOps, config, gatewayUrl } = await startPair();
    await waitFor(async () => (await scrape(gwOps)).get('mcp_tunnel_connections{tunnel="corp",state="authenticated"}') === 1, { message: 'gateway metrics see the proxy' });
    expect((await scrape(gwOps)).has('mcp_tunnel_cluster_redis_up')).toBe(false); // a single gateway: no cluster series

    const table = await runStatus(['--url', gwOps]);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^gateway \S+ {2}pid \d+ {2}up \d+s {2}requests in flight 0$/m);
    expect(table.out).toMatch(/^TUNNEL +READY +PROXY +ADDRESS +AGE +SECRET +STREAMS +STATE$/m);
    // The proxy authenticated with the second listed secret: SECRET 1.
    expect(table.out).toMatch(/^corp +yes +px-one +127\.0\.0\.1 +\d+s +1 +0 +authenticated$/m);
    expect(table.out).toMatch(/^lab +no +- +- +- +- +- +no proxy connected$/m);

    const json = await runStatus(['--config', config, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.out) as StatusReport;
    expect(report.replica).toMatchObject({ role: 'gateway', inFlight: 0 });
    expect(report.tunnels.map((t) => t.id)).toEqual(['corp', 'lab']);
    expect(report.cluster).toBeNull(); // a single gateway (no cluster.redis)
    expect(report.tunnels[0]!.connections).toEqual([
      { id: expect.any(String), proxy: 'px-one', remoteAddress: '127.0.0.1', connectedAt: expect.any(String), ageSeconds: expect.any(Number), secretId: '1', streams: 0, state: 'authenticated' },
    ]);
    expect(json.out).not.toContain(fs.readFileSync(path.join(dir, 'secret'), 'utf8').trim());

    expect((await fetch(`${gatewayUrl}/status`)).status).toBe(404);
  });

  it('exits 1 when the listener is unreachable or is not a gateway, 2 on a usage error', async () => {
    const { pxOps } = await startPair();
    const proxyAnswer = await runStatus(['--url', pxOps]);
    expect(proxyAnswer.code).toBe(1);
    expect(proxyAnswer.err).toContain('TUNNEL_STATUS_BAD_ANSWER');

    const down = await runStatus(['--url', `http://127.0.0.1:${await closedPort()}`]);
    expect(down.code).toBe(1);
    expect(down.err).toContain('TUNNEL_STATUS_UNREACHABLE');

    const bad = await runStatus(['--url', 'http://127.0.0.1:1/status']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('TUNNEL_STATUS_USAGE');
    expect((await runStatus(['--bogus'])).code).toBe(2);
  });
});
