import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnCli, stopAllProcesses, type SpawnedProcess } from '../../helpers/process';
import { waitFor } from '../../helpers/wait-for';

/**
 * The ops listener, `mcp-tunnel health` and sd_notify, wired into the built CLI (run `npm run build`
 * first): real gateway and proxy child processes, a datagram socket standing in for systemd.
 */

interface UnixDgramSocket {
  bind(path: string): void;
  on(event: 'message', listener: (buf: Buffer) => void): void;
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the optional native addon sd_notify uses
const unixDgram = require('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };

let dir: string;
const sockets: UnixDgramSocket[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-ops-it-'));
});

afterEach(async () => {
  await stopAllProcesses();
  for (const s of sockets.splice(0)) s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A datagram socket where systemd's manager would be, collecting what arrives. */
function manager(name: string): { path: string; messages: string[] } {
  const at = path.join(dir, name);
  const messages: string[] = [];
  const sock = unixDgram.createSocket('unix_dgram');
  sock.on('message', (buf) => messages.push(buf.toString('utf8')));
  sock.bind(at);
  sockets.push(sock);
  return { path: at, messages };
}

async function opsUrl(proc: SpawnedProcess): Promise<string> {
  const line = await proc.waitForJson((e) => e.msg === 'ops listener ready');
  return String(line.url);
}

async function readyz(base: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function health(base: string): Promise<{ code: number | null; out: string }> {
  const proc = spawnCli(['health', '--url', base], { cleanEnv: true });
  const { code } = await proc.exited;
  return { code, out: proc.lines.map((l) => l.line).join('\n') };
}

function writeGatewayConfig(secret: string, ops: Record<string, unknown> | undefined): string {
  const file = path.join(dir, 'gateway.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      tunnels: [{ id: 'corp', secrets: [secret] }],
      servers: [{ name: 'notes', tunnel: 'corp', url: 'http://127.0.0.1:9/mcp' }],
      clients: [{ name: 'alice', apiKey: randomBytes(24).toString('base64url'), servers: ['*'] }],
      ...(ops === undefined ? {} : { ops }),
    }),
  );
  return file;
}

describe('ops listener, health and sd_notify (child processes)', () => {
  it('gateway and proxy serve /readyz on their ops listeners, notify READY/RELOADING/STOPPING, and health follows readiness', async () => {
    const secret = randomBytes(32).toString('base64url');
    const gwManager = manager('gw-notify');
    const gateway = spawnCli(['gateway'], {
      cleanEnv: true,
      env: { MCP_TUNNEL_CONFIG: writeGatewayConfig(secret, { listen: '127.0.0.1:0' }), NOTIFY_SOCKET: gwManager.path },
    });
    const gwOps = await opsUrl(gateway);
    const gatewayUrl = String((await gateway.waitForJson((e) => e.msg === 'gateway listening')).url);
    await waitFor(() => gwManager.messages.some((m) => m.startsWith('READY=1')), { message: 'gateway READY=1' });
    // Listening = ready; the tunnel has no proxy yet.
    expect(await readyz(gwOps)).toEqual({ status: 200, body: { status: 'ready', ready: true, tunnels: { corp: { ready: false, connections: 0 } } } });
    expect((await health(gwOps)).code).toBe(0);

    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    const pxManager = manager('px-notify');
    const proxy = spawnCli(['proxy', '--url', `${gatewayUrl.replace(/^http/, 'ws')}/tunnel/corp`, '--secret-file', secretFile, '--ops-listen', '127.0.0.1:0'], {
      cleanEnv: true,
      env: { NOTIFY_SOCKET: pxManager.path, WATCHDOG_USEC: '200000', MCP_TUNNEL_RECONNECT_BASE_MS: '50' },
    });
    const pxOps = await opsUrl(proxy);
    await waitFor(() => pxManager.messages.some((m) => m.startsWith('READY=1')), { message: 'proxy READY=1', timeoutMs: 10_000 });
    expect(pxManager.messages.find((m) => m.startsWith('READY=1'))).toMatch(/^READY=1\nSTATUS=connected \(\d+ connections\)$/);
    expect((await readyz(pxOps)).status).toBe(200);
    expect((await health(pxOps)).code).toBe(0);
    await waitFor(async () => {
      const tunnels = (await readyz(gwOps)).body.tunnels as Record<string, { connections: number } | undefined>;
      return (tunnels.corp?.connections ?? 0) >= 1;
    }, { message: 'gateway readiness: corp connected' });
    // WATCHDOG_USEC=200 ms: pings every 100 ms.
    await waitFor(() => pxManager.messages.includes('WATCHDOG=1'), { message: 'WATCHDOG=1' });

    // SIGHUP: RELOADING=1, then READY=1 again.
    const before = pxManager.messages.length;
    proxy.child.kill('SIGHUP');
    await waitFor(() => {
      const after = pxManager.messages.slice(before).filter((m) => /^(RELOADING|READY)=1/.test(m));
      return after.length >= 2 && after[0]!.startsWith('RELOADING=1\nMONOTONIC_USEC=') && after[1]!.startsWith('READY=1');
    }, { message: 'RELOADING=1 then READY=1 after SIGHUP' });

    expect(await proxy.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    expect(pxManager.messages).toContain('STOPPING=1');
    await expect(fetch(`${pxOps}/readyz`)).rejects.toThrow(); // the ops listener closed with the proxy
    expect(await gateway.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
    expect(gwManager.messages).toContain('STOPPING=1');
  });

  it('a proxy without an authenticated connection is not ready: /readyz 503 and health exits 1', async () => {
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(secretFile, `${randomBytes(32).toString('base64url')}\n`);
    const proxy = spawnCli(['proxy'], {
      cleanEnv: true,
      env: { MCP_TUNNEL_URL: 'ws://127.0.0.1:9/tunnel/corp', MCP_TUNNEL_SECRET_FILE: secretFile, MCP_TUNNEL_OPS_LISTEN: '127.0.0.1:0' },
    });
    const pxOps = await opsUrl(proxy);
    const r = await readyz(pxOps);
    expect(r.status).toBe(503);
    expect(r.body.ready).toBe(false);
    const h = await health(pxOps);
    expect(h.code).toBe(1);
    expect(h.out).toContain('TUNNEL_HEALTH_NOT_READY');
    expect(await proxy.stop({ signal: 'SIGINT' })).toEqual({ code: 0, signal: null });
  });

  it('no ops listener unless asked for (gateway config without ops)', async () => {
    const gateway = spawnCli(['gateway'], { cleanEnv: true, env: { MCP_TUNNEL_CONFIG: writeGatewayConfig(randomBytes(32).toString('base64url'), undefined) } });
    await gateway.waitForJson((e) => e.msg === 'gateway listening');
    expect(gateway.jsonLines().map((l) => l.msg)).not.toContain('ops listener ready');
    expect(await gateway.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
  });

  it.each([
    ['gateway', ['--ops-listen', 'example.com:9464']],
    ['proxy', ['--url', 'ws://127.0.0.1:9/tunnel/corp', '--ops-listen', '127.0.0.1:99999']],
  ])('%s: an invalid --ops-listen exits 2 with one clear line', async (command, args) => {
    const proc = spawnCli([command, ...args], {
      cleanEnv: true,
      env:
        command === 'gateway'
          ? { MCP_TUNNEL_CONFIG: writeGatewayConfig(randomBytes(32).toString('base64url'), undefined) }
          : { MCP_TUNNEL_SECRET: randomBytes(32).toString('base64url') },
    });
    expect((await proc.exited).code).toBe(2);
    expect(proc.stderr.join('\n')).toMatch(/invalid configuration: .*ops\.listen.*HOST:PORT/);
  });

  it('health with a bad --url exits 1 with TUNNEL_HEALTH_USAGE; an unreachable listener exits 1', async () => {
    const bad = spawnCli(['health', '--url', 'http://127.0.0.1:1/readyz'], { cleanEnv: true });
    expect((await bad.exited).code).toBe(1);
    expect(bad.stderr.join('\n')).toContain('TUNNEL_HEALTH_USAGE');
    const down = await health('http://127.0.0.1:9');
    expect(down.code).toBe(1);
    expect(down.out).toContain('TUNNEL_HEALTH_UNREACHABLE');
  });
});
