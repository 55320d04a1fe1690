import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnCli, stopAllProcesses } from '../../helpers/process';
import { newSecret, tempDir } from './helpers';

/** SIGHUP reloads instead of killing (Node's default); SIGTERM still stops cleanly afterwards. */
describe('mcp-tunnel SIGHUP (child processes)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    await stopAllProcesses();
    tmp.cleanup();
  });

  it('the gateway reloads its config file on SIGHUP and on change; an invalid file keeps the running config', async () => {
    const secret = newSecret();
    const configFile = path.join(tmp.dir, 'gateway.json');
    const config = (secrets: string[]): string => JSON.stringify({ listen: { host: '127.0.0.1', port: 0 }, tunnels: [{ id: 'corp', secrets }] });
    fs.writeFileSync(configFile, config([secret]));
    const gateway = spawnCli(['gateway', '--config', configFile], { cleanEnv: true });
    await gateway.waitForJson((e) => e.msg === 'mcp-tunnel started');

    gateway.child.kill('SIGHUP');
    await gateway.waitForJson((e) => e.msg === 'configuration reloaded');
    expect(gateway.jsonLines().find((e) => e.msg === 'reloading configuration')).toMatchObject({ trigger: 'SIGHUP' });

    fs.writeFileSync(`${configFile}.tmp`, config(['too-short']));
    fs.renameSync(`${configFile}.tmp`, configFile);
    const failed = await gateway.waitForJson((e) => e.msg === 'configuration reload failed; keeping the running configuration');
    expect(failed).toMatchObject({ level: 50, code: 'TUNNEL_CONFIG_INVALID', trigger: 'file changed' });

    expect(await gateway.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    expect(gateway.lines.map((l) => l.line).join('\n')).not.toContain(secret);
  });

  it('the proxy re-reads its secret file on SIGHUP', async () => {
    const secretFile = path.join(tmp.dir, 'secret');
    fs.writeFileSync(secretFile, `${newSecret()}\n`, { mode: 0o600 });
    // Port 9 on loopback: nothing listens; the proxy keeps retrying while we signal it.
    const proxy = spawnCli(['proxy'], { cleanEnv: true, env: { MCP_TUNNEL_URL: 'ws://127.0.0.1:9/tunnel/corp', MCP_TUNNEL_SECRET_FILE: secretFile } });
    await proxy.waitForJson((e) => e.msg === 'starting proxy');
    proxy.child.kill('SIGHUP');
    const reloaded = await proxy.waitForJson((e) => typeof e.msg === 'string' && e.msg.startsWith('tunnel secret (re)loaded'));
    expect(reloaded).toMatchObject({ trigger: 'SIGHUP' });
    expect(await proxy.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
  });
});
