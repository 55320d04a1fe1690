import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SdNotifier, loadUnixDgramSender } from '../../../src/ops';
import { silentLogger } from '../../../src/log';
import { waitFor } from '../../helpers/wait-for';

interface UnixDgramSocket {
  bind(path: string): void;
  on(event: 'message', listener: (buf: Buffer) => void): void;
  close(): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the optional native addon under test
const unixDgram = require('unix-dgram') as { createSocket(type: 'unix_dgram'): UnixDgramSocket };

/** A datagram socket bound where systemd's manager would be, collecting what arrives. */
function manager(dir: string): { path: string; messages: string[]; close(): void } {
  const path = join(dir, 'notify');
  const messages: string[] = [];
  const sock = unixDgram.createSocket('unix_dgram');
  sock.on('message', (buf) => messages.push(buf.toString('utf8')));
  sock.bind(path);
  return { path, messages, close: () => sock.close() };
}

function capturingLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { logger, lines };
}

describe('sd_notify', () => {
  let dir: string;
  let mgr: ReturnType<typeof manager> | undefined;
  let notifier: SdNotifier | undefined;
  let child: ChildProcess | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sd-notify-'));
  });
  afterEach(() => {
    notifier?.close();
    mgr?.close();
    child?.kill();
    notifier = mgr = child = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('the unix-dgram addon is installed and loads (sd_notify depends on it)', () => {
    expect(loadUnixDgramSender()).toBeDefined();
  });

  it('sends READY, STATUS, RELOADING … READY and STOPPING in call order, as systemd expects them', async () => {
    mgr = manager(dir);
    notifier = new SdNotifier({ env: { NOTIFY_SOCKET: mgr.path }, logger: silentLogger() });
    expect(notifier.enabled).toBe(true);
    notifier.status('connecting to wss://gw.example/tunnel/corp');
    notifier.ready('connected (2 connections)');
    const before = process.hrtime.bigint() / 1000n;
    notifier.reloading();
    const after = process.hrtime.bigint() / 1000n;
    notifier.ready();
    notifier.stopping();
    await waitFor(() => mgr!.messages.length === 5);
    expect(mgr.messages[0]).toBe('STATUS=connecting to wss://gw.example/tunnel/corp');
    expect(mgr.messages[1]).toBe('READY=1\nSTATUS=connected (2 connections)');
    const m = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(mgr.messages[2]!);
    expect(m).not.toBeNull();
    const usec = BigInt(m![1]!);
    expect(usec >= before && usec <= after).toBe(true);
    expect(mgr.messages.slice(3)).toEqual(['READY=1', 'STOPPING=1']);
  });

  it('STATUS text cannot inject another assignment (newlines and control characters are replaced)', async () => {
    mgr = manager(dir);
    notifier = new SdNotifier({ env: { NOTIFY_SOCKET: mgr.path }, logger: silentLogger() });
    notifier.status('gateway said: bad\nREADY=1\r\nMAINPID=1\u0000x');
    await waitFor(() => mgr!.messages.length === 1);
    expect(mgr.messages).toEqual(['STATUS=gateway said: bad READY=1 MAINPID=1 x']);
  });

  // NotifyAccess=main: systemd accepts a message only when the kernel-stamped sender PID is the main
  // PID. A python3 receiver with SO_PASSCRED reads the credentials the kernel attached.
  const python = spawnSync('python3', ['-c', 'import socket; socket.SO_PASSCRED'], { stdio: 'ignore' }).status === 0;
  (python ? it : it.skip)('datagrams carry this process\'s own PID (NotifyAccess=main accepts them)', async () => {
    const path = join(dir, 'notify-cred');
    const script = [
      'import socket, struct, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)',
      `s.bind(${JSON.stringify(path)})`,
      'print("bound", flush=True)',
      'msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))',
      'pid = [struct.unpack("iII", d)[0] for l, t, d in anc if t == socket.SCM_CREDENTIALS][0]',
      'print(pid, msg.decode(), flush=True)',
    ].join('\n');
    const c = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    child = c;
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    await waitFor(() => out.startsWith('bound\n'));
    notifier = new SdNotifier({ env: { NOTIFY_SOCKET: path }, logger: silentLogger() });
    notifier.ready();
    await waitFor(() => out.split('\n').length >= 3);
    expect(out.split('\n')[1]).toBe(`${process.pid} READY=1`);
  });

  it('sends WATCHDOG=1 every half WATCHDOG_USEC while alive, and stops when the supervisor is stuck', async () => {
    mgr = manager(dir);
    notifier = new SdNotifier({ env: { NOTIFY_SOCKET: mgr.path, WATCHDOG_USEC: '60000', WATCHDOG_PID: String(process.pid) }, logger: silentLogger() });
    let alive = true;
    let checks = 0;
    expect(notifier.startWatchdog(() => (checks++, alive))).toBe(30);
    await waitFor(() => mgr!.messages.length >= 2);
    expect(new Set(mgr.messages)).toEqual(new Set(['WATCHDOG=1']));
    alive = false;
    const sent = mgr.messages.length;
    const seen = checks;
    await waitFor(() => checks >= seen + 3);
    expect(mgr.messages.length).toBeLessThanOrEqual(sent + 1); // at most one already in flight
    notifier.stopping();
    await waitFor(() => mgr!.messages.includes('STOPPING=1'));
    const afterStop = checks;
    alive = true;
    // The interval is cleared: no further checks happen. Observe via a fresh short watchdog on another notifier.
    const probe = new SdNotifier({ env: { NOTIFY_SOCKET: mgr.path, WATCHDOG_USEC: '20000' }, logger: silentLogger() });
    let probeTicks = 0;
    probe.startWatchdog(() => (probeTicks++, false));
    await waitFor(() => probeTicks >= 5);
    probe.close();
    expect(checks).toBe(afterStop);
  });

  it('has no watchdog without WATCHDOG_USEC, with a bad one, or when WATCHDOG_PID is another process', () => {
    mgr = manager(dir);
    for (const env of [{}, { WATCHDOG_USEC: '0' }, { WATCHDOG_USEC: 'abc' }, { WATCHDOG_USEC: '1000000', WATCHDOG_PID: String(process.pid + 1) }]) {
      const n = new SdNotifier({ env: { NOTIFY_SOCKET: mgr.path, ...env }, logger: silentLogger() });
      expect(n.startWatchdog()).toBeUndefined();
      n.close();
    }
  });

  it('sends nothing and loads nothing without NOTIFY_SOCKET', () => {
    let loaded = 0;
    const sends: string[] = [];
    const sender = () => (loaded++, { send: (_p: string, m: Buffer) => sends.push(m.toString()), close: () => undefined });
    for (const env of [{}, { NOTIFY_SOCKET: '' }, { WATCHDOG_USEC: '1000000' }]) {
      const n = new SdNotifier({ env, logger: silentLogger(), sender });
      n.ready('x');
      n.status('x');
      n.reloading();
      n.stopping();
      expect(n.enabled).toBe(false);
      expect(n.startWatchdog()).toBeUndefined();
      n.close();
    }
    expect([loaded, sends]).toEqual([0, []]);
  });

  it('an abstract NOTIFY_SOCKET or a missing addon turns notifications off with one warning', () => {
    const { logger, lines } = capturingLogger();
    const abstract = new SdNotifier({ env: { NOTIFY_SOCKET: '@/org/freedesktop/systemd1/notify' }, logger });
    const noAddon = new SdNotifier({ env: { NOTIFY_SOCKET: '/run/systemd/notify' }, logger, sender: () => undefined });
    expect([abstract.enabled, noAddon.enabled]).toEqual([false, false]);
    expect(lines.map((l) => [l['level'], l['code']])).toEqual([
      [40, 'TUNNEL_SD_NOTIFY_UNAVAILABLE'],
      [40, 'TUNNEL_SD_NOTIFY_UNAVAILABLE'],
    ]);
  });

  it('a vanished manager socket is logged once (TUNNEL_SD_NOTIFY_SEND_FAILED) and never thrown', () => {
    const { logger, lines } = capturingLogger();
    notifier = new SdNotifier({ env: { NOTIFY_SOCKET: join(dir, 'nobody-here') }, logger });
    expect(() => {
      notifier!.ready();
      notifier!.status('still running');
    }).not.toThrow();
    expect(lines.map((l) => l['code'])).toEqual(['TUNNEL_SD_NOTIFY_SEND_FAILED']);
  });
});
