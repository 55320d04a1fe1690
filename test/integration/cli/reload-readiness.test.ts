import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnCli, stopAllProcesses } from '../../helpers/process';
import { waitFor } from '../../helpers/wait-for';

/**
 * Readiness after a failed reload (issue 11): a SIGHUP with a bad config keeps the running one, logs
 * the error, tells systemd READY=1 again and /readyz stays ready. Built CLI (`npm run build` first).
 */

interface UnixDgramSocket {
  bind(path: string): void;
  on(event: 'message', listener: (buf: Buffer) => void): void;
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the optional native addon sd_notify uses
const unixDgram = require('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };

let dir: string;
let sock: UnixDgramSocket | null = null;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-reload-ready-'));
});

afterEach(async () => {
  await stopAllProcesses();
  sock?.close();
  sock = null;
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeAtomically(file: string, text: string): void {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

describe('a failed reload keeps the gateway ready (child process)', () => {
  it('SIGHUP with an invalid config: error logged, RELOADING=1 then READY=1, /readyz 200 with the old tunnels', async () => {
    const messages: string[] = [];
    const notify = path.join(dir, 'notify');
    sock = unixDgram.createSocket('unix_dgram');
    sock.on('message', (buf) => messages.push(buf.toString('utf8')));
    sock.bind(notify);

    const file = path.join(dir, 'gateway.json');
    const good = { listen: { host: '127.0.0.1', port: 0 }, tunnels: [{ id: 'corp', secrets: [randomBytes(32).toString('base64url')] }], ops: { listen: '127.0.0.1:0' } };
    writeAtomically(file, JSON.stringify(good));
    const gateway = spawnCli(['gateway', '--config', file], { cleanEnv: true, env: { NOTIFY_SOCKET: notify } });
    const ops = String((await gateway.waitForJson((e) => e.msg === 'mcp-tunnel started')).ops);
    await waitFor(() => messages.some((m) => m.startsWith('READY=1')), { message: 'READY=1 at start' });

    // An invalid file: a too-short secret. The file watcher may see it first; SIGHUP forces a reload.
    writeAtomically(file, JSON.stringify({ ...good, tunnels: [{ id: 'corp', secrets: ['short'] }, { id: 'new', secrets: ['short'] }] }));
    const before = messages.length;
    const failuresBefore = gateway.jsonLines().filter((e) => e.msg === 'configuration reload failed; keeping the running configuration').length;
    gateway.child.kill('SIGHUP');
    const failure = await gateway.waitForJson(
      (e) => e.msg === 'configuration reload failed; keeping the running configuration' && e.trigger === 'SIGHUP',
    );
    expect(failuresBefore).toBeLessThanOrEqual(1);
    expect(failure).toMatchObject({ level: 50, code: 'TUNNEL_CONFIG_INVALID' });
    expect(JSON.stringify(failure)).not.toContain(good.tunnels[0]!.secrets[0]);

    await waitFor(() => messages.slice(before).filter((m) => /^(RELOADING|READY)=1/.test(m)).length >= 2, { message: 'RELOADING=1, READY=1' });
    const around = messages.slice(before).filter((m) => /^(RELOADING|READY)=1/.test(m));
    expect(around[0]).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    expect(around[1]).toMatch(/^READY=1/);

    const res = await fetch(`${ops}/readyz`);
    expect(res.status).toBe(200);
    // Still the running configuration: the tunnel list did not change.
    const body = (await res.json()) as { ready: boolean; tunnels: Record<string, unknown> };
    expect(body).toMatchObject({ ready: true, tunnels: { corp: { ready: false, connections: 0 } } });
    expect(Object.keys(body.tunnels)).toEqual(['corp']);
    expect(gateway.exitInfo).toBeUndefined();
    expect(await gateway.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
  });
});
