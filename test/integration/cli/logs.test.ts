import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnCli, stopAllProcesses, type SpawnedProcess } from '../../helpers/process';
import { waitFor } from '../../helpers/wait-for';

/**
 * Logs for people (issue 11 part 6), through the built CLI (`npm run build` first): the pretty
 * format, the one start-up line, log levels on SIGHUP and SIGUSR2, and two log-line defects.
 */

let dir: string;
const VERSION = (JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as { version: string }).version;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-logs-it-'));
});

afterEach(async () => {
  await stopAllProcesses();
  fs.rmSync(dir, { recursive: true, force: true });
});

function gatewayConfig(extra: Record<string, unknown> = {}, tunnels = [{ id: 'corp', secrets: [randomBytes(32).toString('base64url')] }]): string {
  const file = path.join(dir, 'gateway.json');
  fs.writeFileSync(`${file}.tmp`, JSON.stringify({ listen: { host: '127.0.0.1', port: 0 }, tunnels, ...extra }));
  fs.renameSync(`${file}.tmp`, file);
  return file;
}

async function started(proc: SpawnedProcess): Promise<Record<string, unknown>> {
  return proc.waitForJson((e) => e.msg === 'mcp-tunnel started');
}

describe('logs for people (child processes)', () => {
  it('one start-up line with version, role, URL, limits and the ops listener; "gateway listening" once', async () => {
    const gateway = spawnCli(['gateway', '--config', gatewayConfig({ ops: { listen: '127.0.0.1:0' } })], { cleanEnv: true });
    const line = await started(gateway);
    expect(line).toMatchObject({ version: VERSION, role: 'gateway', tunnels: ['corp'], tls: false });
    expect(String(line.url)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(String(line.ops)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(line.limits).toMatchObject({ connectWaitMs: 10000, handshakeTimeoutMs: 5000 });
    expect(gateway.jsonLines().filter((e) => e.msg === 'gateway listening')).toHaveLength(1);
    expect(gateway.jsonLines().filter((e) => e.msg === 'mcp-tunnel started')).toHaveLength(1);
    expect(gateway.jsonLines().map((e) => e.msg)).not.toContain('no tunnels configured');

    const secret = randomBytes(32).toString('base64url');
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, secret);
    const proxy = spawnCli(['proxy', '--url', 'ws://127.0.0.1:9/tunnel/corp', '--secret-file', secretFile, '--ops-listen', '127.0.0.1:0'], {
      cleanEnv: true,
      env: { MCP_TUNNEL_HANDSHAKE_TIMEOUT_MS: '1234' },
    });
    const pline = await started(proxy);
    expect(pline).toMatchObject({ version: VERSION, role: 'proxy', url: 'ws://127.0.0.1:9/tunnel/corp', tunnel: 'corp' });
    expect(pline.limits).toMatchObject({ connections: 2, handshakeTimeoutMs: 1234, maxStreams: 8192 });
    expect(String(pline.ops)).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(proxy.lines.map((l) => l.line).join('\n')).not.toContain(secret);
  });

  it('a gateway with no tunnels warns at start, with a hint', async () => {
    const gateway = spawnCli(['gateway', '--config', gatewayConfig({}, [])], { cleanEnv: true });
    const warn = await gateway.waitForJson((e) => e.msg === 'no tunnels configured');
    expect(warn.level).toBe(40);
    expect(String(warn.hint)).toContain('tunnels');
  });

  it('--log-format pretty (and MCP_TUNNEL_LOG_FORMAT) prints lines for people; JSON is the default on a pipe', async () => {
    const file = gatewayConfig();
    const pretty = spawnCli(['gateway', '--config', file, '--log-format', 'pretty'], { cleanEnv: true });
    const m = await pretty.waitForLine(/^(\d\d:\d\d:\d\d\.\d{3}) INFO {2}cli: mcp-tunnel started version=(\S+) role=gateway url=http:\/\/127\.0\.0\.1:\d+ /);
    expect(m[2]).toBe(VERSION);
    expect(pretty.jsonLines()).toHaveLength(0);
    expect(pretty.stdout.join('\n')).not.toContain('\u001b['); // no colours when not on a terminal

    const byEnv = spawnCli(['gateway', '--config', file], { cleanEnv: true, env: { MCP_TUNNEL_LOG_FORMAT: 'pretty' } });
    await byEnv.waitForLine(/ INFO {2}gateway: gateway listening url=/);

    const json = spawnCli(['gateway', '--config', file], { cleanEnv: true });
    await started(json);
    const bad = spawnCli(['gateway', '--config', file, '--log-format', 'fancy'], { cleanEnv: true });
    expect((await bad.exited).code).toBe(2);
    expect(bad.stderr.join('\n')).toMatch(/invalid configuration: log\.format: must be one of auto, pretty, json/);
  });

  it('SIGUSR2 cycles info → debug → trace → info; SIGHUP applies log.level from the file (gateway)', async () => {
    const file = gatewayConfig();
    const gateway = spawnCli(['gateway', '--config', file], { cleanEnv: true });
    await started(gateway);
    const changes = (): Array<Record<string, unknown>> => gateway.jsonLines().filter((e) => e.msg === 'log level changed');
    for (const [n, level] of [[1, 'debug'], [2, 'trace'], [3, 'info']] as const) {
      gateway.child.kill('SIGUSR2');
      await waitFor(() => changes().length === n, { message: `level change ${n}` });
      expect(changes()[n - 1]).toMatchObject({ current: level, trigger: 'SIGUSR2' });
    }
    const secrets = (JSON.parse(fs.readFileSync(file, 'utf8')) as { tunnels: unknown }).tunnels;
    gatewayConfig({ log: { level: 'debug' } }, secrets as never);
    gateway.child.kill('SIGHUP');
    await waitFor(() => changes().length === 4, { message: 'level change on SIGHUP' });
    expect(changes()[3]).toMatchObject({ previous: 'info', current: 'debug' });
    expect(await gateway.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
  });

  it('SIGHUP applies log.level on the proxy (config file), SIGUSR2 cycles it', async () => {
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, randomBytes(32).toString('base64url'));
    const configFile = path.join(dir, 'proxy.json');
    fs.writeFileSync(configFile, JSON.stringify({ url: 'ws://127.0.0.1:9/tunnel/corp', secretFile, log: { level: 'warn' } }));
    const proxy = spawnCli(['proxy', '--config', configFile], { cleanEnv: true });
    await waitFor(() => proxy.jsonLines().some((e) => e.level === 40), { message: 'a warn line (reconnecting)' });
    proxy.child.kill('SIGUSR2');
    await proxy.waitForJson((e) => e.msg === 'log level changed' && e.level === 30 && e.previous === 'warn');
    fs.writeFileSync(configFile, JSON.stringify({ url: 'ws://127.0.0.1:9/tunnel/corp', secretFile, log: { level: 'debug' } }));
    proxy.child.kill('SIGHUP');
    await proxy.waitForJson((e) => e.msg === 'log level changed' && e.level === 30 && e.previous === 'info' && e.trigger === 'SIGHUP');
    expect(await proxy.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
  });

  it('the gateway\'s "tunnel handshake failed" line has one remote key (it had two)', async () => {
    const gateway = spawnCli(['gateway', '--config', gatewayConfig()], { cleanEnv: true });
    const url = String((await started(gateway)).url);
    const secretFile = path.join(dir, 'wrong');
    fs.writeFileSync(secretFile, randomBytes(32).toString('base64url'));
    spawnCli(['proxy', '--url', `${url.replace(/^http/, 'ws')}/tunnel/corp`, '--secret-file', secretFile], { cleanEnv: true });
    const raw = await gateway.waitForLine(/"msg":"tunnel handshake failed"/);
    expect(raw[0]).toBeDefined();
    const line = gateway.stdout.find((l) => l.includes('"msg":"tunnel handshake failed"'))!;
    expect(line.match(/"remote":/g)).toHaveLength(1);
  });
});
