/**
 * Optional peers, run only when their programs are installed:
 * - `ssh -R`: a private sshd on loopback (own host key and authorized_keys in the scratch folder, a
 *   free port) and an ssh client that forwards a port of the sshd host to the upstream, the way an
 *   agent inside a private network would. Default ciphers.
 * - nginx: one reverse-proxy hop (one worker, keep-alive to the upstream, no buffering), the cost of
 *   one well-optimised hop; not a tunnel.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import { delay, descendants, freePort, type Procs, type Started } from './procs';
import { forwardedTarget, untilServed, type Target } from './target';

/** Absolute path of `program` in PATH or the sbin folders, or null. */
export function findProgram(program: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    if (d === '') continue;
    try {
      accessSync(join(d, program), constants.X_OK);
      return join(d, program);
    } catch {
      // Not here.
    }
  }
  return null;
}

/** Resolves once nothing accepts connections on `port` any more. */
async function untilPortClosed(port: number, limitMs = 10_000): Promise<void> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    const open = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (!open) return;
    await delay(10);
  }
  throw new Error(`port ${port} still open after ${limitMs} ms`);
}

const tree = (s: Started): number[] => [s.pid, ...descendants(s.pid)];

/** `ssh -R` through a private sshd; null when sshd, ssh or ssh-keygen is missing. */
export async function startSsh(procs: Procs, upstreamPort: number, dir: string): Promise<Target | null> {
  const [sshd, ssh, keygen] = ['sshd', 'ssh', 'ssh-keygen'].map(findProgram);
  if (!sshd || !ssh || !keygen) return null;
  const d = join(dir, 'ssh');
  mkdirSync(d, { recursive: true, mode: 0o700 });
  for (const k of ['host', 'client']) execFileSync(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', join(d, k)]);
  execFileSync('cp', [join(d, 'client.pub'), join(d, 'authorized_keys')]);
  // sshd refuses to start as root without its privilege-separation folder (absent in containers).
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const [sshdPort, fwdPort] = [await freePort(), await freePort()];
  writeFileSync(
    join(d, 'sshd_config'),
    [
      `Port ${sshdPort}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(d, 'host')}`,
      `PidFile ${join(d, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(d, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding remote',
      'X11Forwarding no',
      'PrintMotd no',
      'LogLevel INFO',
      '',
    ].join('\n'),
  );
  const master = await procs.start('sshd', sshd, ['-D', '-e', '-f', join(d, 'sshd_config')], { ready: /Server listening on/ });
  const sshArgs = [
    '-N', '-T', '-p', String(sshdPort), '-i', join(d, 'client'),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
    '-o', 'ExitOnForwardFailure=yes', '-o', 'LogLevel=ERROR',
    '-R', `127.0.0.1:${fwdPort}:127.0.0.1:${upstreamPort}`,
    `${userInfo().username}@127.0.0.1`,
  ];
  const startClient = (): Promise<Started> => procs.start('ssh', ssh, sshArgs, { ready: null });
  let client = await startClient();
  const target = forwardedTarget('ssh -R', `http://127.0.0.1:${fwdPort}`, {
    pids: () => ({ sshd: tree(master), ssh: [client.pid] }),
    async restartAgent() {
      await procs.stop(client);
      await untilPortClosed(fwdPort);
      const t0 = process.hrtime.bigint();
      client = await startClient();
      return untilServed(target, t0);
    },
    async close() {
      await procs.stop(client);
      await procs.stop(master);
    },
  });
  await untilServed(target, process.hrtime.bigint());
  return target;
}

/** nginx as one reverse-proxy hop; null when nginx is missing. */
export async function startNginx(procs: Procs, upstreamPort: number, dir: string): Promise<Target | null> {
  const nginx = findProgram('nginx');
  if (!nginx) return null;
  const d = join(dir, 'nginx');
  mkdirSync(d, { recursive: true });
  const port = await freePort();
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${join(d, t)};`).join(' ');
  writeFileSync(
    join(d, 'nginx.conf'),
    `${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
master_process on;
pid ${join(d, 'nginx.pid')};
error_log stderr warn;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http {
  access_log off;
  ${temp}
  upstream up { server 127.0.0.1:${upstreamPort}; keepalive 256; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`,
  );
  const master = await procs.start('nginx', nginx, ['-p', d, '-e', 'stderr', '-c', join(d, 'nginx.conf')], { ready: null });
  const target = forwardedTarget('nginx', `http://127.0.0.1:${port}`, {
    pids: () => ({ nginx: tree(master) }),
    close: () => procs.stop(master),
  });
  await untilServed(target, process.hrtime.bigint());
  return target;
}

const FLOOR = join(__dirname, 'floor-hop.js');

/**
 * The Node floor (floor-hop.ts): Node's HTTP server, `ws` and undici with none of mcp-tunnel's
 * work; always available. Its inside end restarts like the proxy does.
 */
export async function startFloor(procs: Procs, upstreamOrigin: string): Promise<Target> {
  const outside = await procs.start('floor outside', process.execPath, [FLOOR, 'outside'], { ready: /^FLOOR_URL=(\S+)/ });
  const origin = outside.match![1]!;
  const wsUrl = origin.replace(/^http/, 'ws');
  const startInside = (ready: RegExp | null): Promise<Started> =>
    procs.start('floor inside', process.execPath, [FLOOR, 'inside', wsUrl, upstreamOrigin], { ready });
  let inside = await startInside(/^FLOOR_INSIDE_READY/);
  const target = forwardedTarget('node floor', origin, {
    pids: () => ({ outside: [outside.pid], inside: [inside.pid] }),
    async restartAgent() {
      await procs.stop(inside);
      const t0 = process.hrtime.bigint();
      inside = await startInside(null);
      return untilServed(target, t0);
    },
    async close() {
      await procs.stop(inside);
      await procs.stop(outside);
    },
  });
  await untilServed(target, process.hrtime.bigint());
  return target;
}
