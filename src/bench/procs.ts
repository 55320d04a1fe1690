/**
 * Child processes of the bench and what /proc says about them. Every process started here is
 * registered, and {@link Procs.stopAll} ends them all (with their descendants: sshd forks a child per
 * session, nginx a worker); the registry also kills leftovers when this process exits, on an error
 * or on SIGINT/SIGTERM, so a failed or interrupted bench leaves nothing running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

/** A started child: its process, and the match of its readiness pattern. */
export interface Started {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly match: RegExpMatchArray | null;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Resolve once a stdout/stderr line matches; null = as soon as it is spawned. */
  ready: RegExp | null;
  /** How many matching lines to wait for (default 1). */
  readyCount?: number;
  timeoutMs?: number;
}

const TAIL_LINES = 30;

/** The registry of child processes; one per bench run. */
export class Procs {
  private readonly running = new Set<Started>();

  constructor() {
    // Last resort when the process exits some other way: no child outlives the bench.
    process.once('exit', () => {
      for (const s of this.running) killTree(s.pid, 'SIGKILL');
    });
  }

  /** Spawns `command args`, and resolves once it is ready; rejects (with its last output) if it exits first or times out. */
  start(name: string, command: string, args: string[], opts: StartOptions): Promise<Started> {
    const child = spawn(command, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    // Registered from its spawn, not once ready: an interrupt during a start must end it too.
    const started: Started = { name, child, pid: child.pid ?? -1, match: null, exited };
    this.running.add(started);
    void exited.then(() => this.running.delete(started));
    const tail: string[] = [];
    return new Promise<Started>((resolve, reject) => {
      let seen = 0;
      let done = false;
      const fail = (why: string): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // A child that timed out is still running: end it before reporting.
        void this.stop(started, 'SIGKILL', 0);
        reject(new Error(`${name}: ${why}\n  ${tail.join('\n  ')}`));
      };
      const timer = setTimeout(() => fail(`not ready after ${opts.timeoutMs ?? 20_000} ms`), opts.timeoutMs ?? 20_000);
      child.once('error', (err) => fail(err.message));
      child.once('exit', (code, signal) => fail(`exited (${code ?? signal ?? '?'}) before it was ready`));
      const ok = (match: RegExpMatchArray | null): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve({ ...started, match });
      };
      const onLine = (line: string): void => {
        tail.push(line.slice(0, 300));
        if (tail.length > TAIL_LINES) tail.shift();
        const m = opts.ready?.exec(line) ?? null;
        if (m !== null && ++seen >= (opts.readyCount ?? 1)) ok(m);
      };
      // Always drained: a child whose pipe fills up would block.
      createInterface({ input: child.stdout }).on('line', onLine);
      createInterface({ input: child.stderr }).on('line', onLine);
      if (opts.ready === null) child.once('spawn', () => ok(null));
    });
  }

  /** Ends one process and its descendants: `signal`, then SIGKILL after `graceMs`. */
  async stop(s: Started, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    const tree = [s.pid, ...descendants(s.pid)];
    for (const pid of tree) signalPid(pid, signal);
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const pid of tree) signalPid(pid, 'SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([s.exited, killed]);
    clearTimeout(timer);
    for (const pid of tree) if (pid !== s.pid) signalPid(pid, 'SIGKILL');
    for (const r of this.running) if (r.pid === s.pid) this.running.delete(r);
  }

  /** Ends every registered process (load generators first is the caller's business). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map((s) => this.stop(s)));
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  // A child that failed to spawn has no pid (-1 here): kill(-1) would signal every process we may.
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function killTree(pid: number, signal: NodeJS.Signals): void {
  for (const p of [pid, ...descendants(pid)]) signalPid(p, signal);
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces); null when gone. */
function statFields(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Every descendant of `pid` (children, their children, …), from /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    const p = Number(e);
    if (!Number.isInteger(p)) continue;
    const ppid = Number(statFields(p)?.[1]);
    if (!Number.isInteger(ppid)) continue;
    parentOf.set(ppid, [...(parentOf.get(ppid) ?? []), p]);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    for (const c of parentOf.get(todo.pop()!) ?? []) {
      out.push(c);
      todo.push(c);
    }
  }
  return out;
}

/** Clock ticks per second of utime/stime in /proc (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU seconds used so far by `pids` together (0 for any that is gone). */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    // After the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime.
    if (f !== null) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / TICKS_PER_SECOND;
}

/** Resident set size of `pids` together, in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // Gone.
    }
  }
  return kb * 1024;
}

/** A free TCP port on 127.0.0.1 (for programs that cannot listen on port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Samples the RSS of process groups every `everyMs` and keeps each group's peak. */
export class RssPeaks {
  private readonly peaks = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly groups: () => Record<string, readonly number[]>, everyMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  private sample(): void {
    for (const [name, pids] of Object.entries(this.groups())) {
      this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, rssBytes(pids)));
    }
  }

  /** Stops sampling; the peak RSS in bytes of each group. */
  stop(): Record<string, number> {
    clearInterval(this.timer);
    this.sample();
    return Object.fromEntries(this.peaks);
  }
}

/** Resolves after `ms` (used between polls, never to wait for an outcome). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
