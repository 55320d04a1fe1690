import { F, type Logger } from '../log';
import { describeError } from '../errors';
import { OPS_CODES } from './errors';

/** Sends one datagram to a Unix datagram socket path; throws on failure. */
export interface DatagramSender {
  send(path: string, message: Buffer): void;
  close(): void;
}

/** The shape of the `unix-dgram` addon's socket that we use. */
interface UnixDgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  close(): void;
}

/**
 * The real sender: the `unix-dgram` native addon (an optional dependency). `sendto(2)` runs in this
 * process, so the kernel stamps the datagram with our own PID, which `NotifyAccess=main` requires.
 * Returns undefined when the addon is not installed (it failed to build, or a container image left it out).
 */
export function loadUnixDgramSender(): DatagramSender | undefined {
  let mod: { createSocket(type: 'unix_dgram'): UnixDgramSocket };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional native addon, loaded only when NOTIFY_SOCKET is set
    mod = require('unix-dgram') as typeof mod;
  } catch {
    return undefined;
  }
  return {
    send(path, message) {
      // A socket per message: an open unix-dgram socket holds a libuv poll handle that would keep the
      // process alive, and notifications are rare (the watchdog's every few seconds at most).
      const socket = mod.createSocket('unix_dgram');
      socket.on('error', () => undefined); // reported through send's callback
      let failure: Error | undefined;
      try {
        // The addon calls back synchronously (sendto on a non-blocking socket); 'congestion' is EAGAIN.
        socket.send(message, 0, message.length, path, (err) => (failure = err));
      } finally {
        socket.close();
      }
      if (failure) throw failure;
    },
    close: () => undefined,
  };
}

export interface SdNotifierOptions {
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** Injected in tests; by default {@link loadUnixDgramSender}. */
  sender?: () => DatagramSender | undefined;
  pid?: number;
}

/**
 * sd_notify(3) for a `Type=notify` service. Every method is a no-op unless `NOTIFY_SOCKET` names a
 * socket path. Messages go out synchronously and in call order. A failed send is logged once per
 * error kind and never thrown: the service keeps running when the manager is away.
 *
 * Order around a reload: `reloading()` → reload → `ready()`. On shutdown: `stopping()` (which also
 * ends the watchdog).
 */
export class SdNotifier {
  private readonly socketPath: string | undefined;
  private readonly sender: DatagramSender | undefined;
  private readonly logger: Logger;
  private readonly env: NodeJS.ProcessEnv;
  private readonly pid: number;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private readonly warned = new Set<string>();

  constructor(opts: SdNotifierOptions) {
    this.env = opts.env ?? process.env;
    this.logger = opts.logger;
    this.pid = opts.pid ?? process.pid;
    const path = this.env['NOTIFY_SOCKET'];
    if (path === undefined || path === '') return;
    if (!path.startsWith('/')) {
      this.warnOnce(OPS_CODES.sdNotifyUnavailable, `NOTIFY_SOCKET ${JSON.stringify(path)} is not an absolute socket path (abstract sockets are not supported); systemd notifications are off`);
      return;
    }
    this.sender = (opts.sender ?? loadUnixDgramSender)();
    if (this.sender === undefined) {
      this.warnOnce(OPS_CODES.sdNotifyUnavailable, 'NOTIFY_SOCKET is set but the unix-dgram addon is not installed; systemd notifications are off');
      return;
    }
    this.socketPath = path;
  }

  /** True when notifications are sent (NOTIFY_SOCKET usable). */
  get enabled(): boolean {
    return this.socketPath !== undefined;
  }

  /** `READY=1` (plus `STATUS=` when given): start-up or a reload finished. */
  ready(status?: string): void {
    this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${clean(status)}`);
  }

  /** `STATUS=…`: one line shown by `systemctl status` (newlines are replaced: no injected assignments). */
  status(text: string): void {
    this.send(`STATUS=${clean(text)}`);
  }

  /** `RELOADING=1` with `MONOTONIC_USEC` (CLOCK_MONOTONIC, as systemd ≥ 253 wants); follow with {@link ready}. */
  reloading(): void {
    this.send(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
  }

  /** `STOPPING=1`; ends the watchdog. */
  stopping(): void {
    this.stopWatchdog();
    this.send('STOPPING=1');
  }

  /**
   * Sends `WATCHDOG=1` every half `WATCHDOG_USEC` while `alive()` says so. A stuck event loop sends
   * nothing (the timer cannot fire) and a stuck supervisor makes `alive()` false, so systemd's
   * watchdog kills and restarts the service in both cases. No-op without `WATCHDOG_USEC`, or when
   * `WATCHDOG_PID` names another process. Returns the ping interval in ms (undefined when off).
   */
  startWatchdog(alive: () => boolean = () => true): number | undefined {
    const usec = Number(this.env['WATCHDOG_USEC']);
    const pid = this.env['WATCHDOG_PID'];
    if (!this.enabled || !Number.isSafeInteger(usec) || usec <= 0) return undefined;
    if (pid !== undefined && pid !== '' && Number(pid) !== this.pid) return undefined;
    this.stopWatchdog();
    const everyMs = Math.max(1, Math.floor(usec / 2000));
    this.watchdogTimer = setInterval(() => {
      if (alive()) this.send('WATCHDOG=1');
    }, everyMs).unref();
    return everyMs;
  }

  stopWatchdog(): void {
    if (this.watchdogTimer !== undefined) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  /** Stops the watchdog and closes the socket. */
  close(): void {
    this.stopWatchdog();
    this.sender?.close();
  }

  private send(message: string): void {
    if (this.socketPath === undefined) return;
    try {
      this.sender!.send(this.socketPath, Buffer.from(message, 'utf8'));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      this.warnOnce(`${OPS_CODES.sdNotifySendFailed}:${String(code)}`, `sd_notify failed: ${describeError(err)}`);
    }
  }

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn({ [F.code]: key.split(':', 1)[0] }, message);
  }
}

/** One line of at most 200 characters, without control characters that would start a new assignment. */
function clean(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 200);
}
