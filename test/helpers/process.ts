import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The built CLI entry point (`npm run build` produces it). */
export const CLI_PATH = path.resolve(__dirname, '../../dist/cli/main.js');

export type StreamName = 'stdout' | 'stderr';

export interface OutputLine {
  stream: StreamName;
  line: string;
  /** `Date.now()` when the line completed. */
  at: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Added to (and overriding) the parent's environment. */
  env?: Record<string, string | undefined>;
  /** Start from an empty environment (plus PATH) instead of the parent's; default false. */
  cleanEnv?: boolean;
  cwd?: string;
  /** Keep stdin open as a pipe (`child.stdin`); default false (`ignore`). */
  stdin?: boolean;
}

export interface WaitForLineOptions {
  /** Which stream to search; default `'any'`. */
  stream?: StreamName | 'any';
  /** Default 10000 ms. */
  timeoutMs?: number;
  /** Only consider lines from this index of `lines` on (e.g. `proc.lines.length` before an action). */
  from?: number;
}

/** A child process with its output captured line by line. */
export interface SpawnedProcess {
  child: ChildProcess;
  pid: number;
  /** Complete lines, per stream and interleaved in arrival order. */
  stdout: string[];
  stderr: string[];
  lines: OutputLine[];
  /** Set once the process has exited. */
  exitInfo: ExitInfo | undefined;
  /** Resolves when the process has exited and its output is drained. Never rejects. */
  exited: Promise<ExitInfo>;
  /**
   * Resolves with the match of the first line matching `re` (already printed ones included).
   * @throws when the process exits first or `timeoutMs` passes; the error quotes the last output.
   */
  waitForLine(re: RegExp, opts?: WaitForLineOptions): Promise<RegExpMatchArray>;
  /**
   * Resolves with the first line that parses as a JSON object (pino's format) satisfying `match`.
   * @throws like {@link waitForLine}.
   */
  waitForJson(match: (entry: Record<string, unknown>) => boolean, opts?: WaitForLineOptions): Promise<Record<string, unknown>>;
  /** Lines of stdout that parse as JSON objects (pino log entries). */
  jsonLines(stream?: StreamName): Array<Record<string, unknown>>;
  /**
   * Sends `signal` (default SIGTERM) and waits for the exit; sends SIGKILL if it has not exited
   * after `timeoutMs` (default 5000). Resolves with the exit info; harmless after exit.
   */
  stop(opts?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<ExitInfo>;
}

const live = new Set<SpawnedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last line of defence: a test run that dies without afterEach must not leave children behind.
  process.once('exit', () => {
    for (const proc of live) proc.child.kill('SIGKILL');
  });
}

function parseJsonObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Spawns `command args` with piped stdout/stderr captured line by line. Registered until it exits, so
 * {@link stopAllProcesses} in `afterEach` stops whatever a test left running.
 *
 * @throws when the process cannot be spawned (e.g. ENOENT).
 */
export function spawnProcess(command: string, args: readonly string[], opts: SpawnOptions = {}): SpawnedProcess {
  installExitHook();
  const env = opts.cleanEnv === true ? { PATH: process.env.PATH, ...opts.env } : { ...process.env, ...opts.env };
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env,
    stdio: [opts.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    throw new Error(`failed to spawn ${command}: no pid (see the child's 'error' event)`);
  }

  const listeners = new Set<(line: OutputLine) => void>();
  const exitListeners = new Set<() => void>();

  const exited = new Promise<ExitInfo>((resolve) => {
    const finish = (info: ExitInfo): void => {
      if (proc.exitInfo !== undefined) return;
      void drained.then(() => {
        proc.exitInfo = info;
        live.delete(proc);
        for (const listener of exitListeners) listener();
        resolve(info);
      });
    };
    child.once('exit', (code, signal) => finish({ code, signal }));
    child.once('error', () => finish({ code: null, signal: null }));
  });

  const proc: SpawnedProcess = {
    child,
    pid: child.pid,
    stdout: [],
    stderr: [],
    lines: [],
    exitInfo: undefined,
    exited,
    waitForLine: (re, o = {}) => {
      // A fresh RegExp per line: a /g or /y flag would otherwise carry lastIndex between lines.
      const matcher = (line: string): RegExpMatchArray | undefined =>
        new RegExp(re.source, re.flags.replace(/[gy]/g, '')).exec(line) ?? undefined;
      return waitForLineImpl(proc, listeners, exitListeners, matcher, `a line matching ${String(re)}`, o);
    },
    waitForJson: async (match, o = {}) => {
      let found: Record<string, unknown> | undefined;
      const matcher = (line: string): RegExpMatchArray | undefined => {
        const entry = parseJsonObject(line);
        if (entry === undefined || !match(entry)) return undefined;
        found = entry;
        return /^[\s\S]*$/.exec(line) ?? undefined;
      };
      await waitForLineImpl(proc, listeners, exitListeners, matcher, 'a matching JSON line', o);
      return found ?? {};
    },
    jsonLines: (stream = 'stdout') =>
      proc[stream].map(parseJsonObject).filter((e): e is Record<string, unknown> => e !== undefined),
    stop: (o = {}) => stopImpl(proc, o.signal ?? 'SIGTERM', o.timeoutMs ?? 5000),
  };

  const attach = (stream: StreamName): Promise<void> => {
    const source = child[stream];
    if (source === null) return Promise.resolve();
    source.setEncoding('utf8');
    let partial = '';
    const emit = (line: string): void => {
      const entry: OutputLine = { stream, line, at: Date.now() };
      proc[stream].push(line);
      proc.lines.push(entry);
      for (const listener of listeners) listener(entry);
    };
    source.on('data', (chunk: string) => {
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      for (const part of parts) emit(part.replace(/\r$/, ''));
    });
    return new Promise((resolve) => {
      source.once('close', () => {
        if (partial.length > 0) emit(partial);
        partial = '';
        resolve();
      });
    });
  };
  const drained = Promise.all([attach('stdout'), attach('stderr')]);

  live.add(proc);
  return proc;
}

/** Spawns the built CLI: `node dist/cli/main.js <args>`. @throws when dist is not built. */
export function spawnCli(args: readonly string[], opts: SpawnOptions = {}): SpawnedProcess {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} does not exist: run \`npm run build\` first`);
  return spawnProcess(process.execPath, [CLI_PATH, ...args], opts);
}

/** Repository root: the working directory for {@link spawnTs} children, where `@swc/core` resolves. */
export const REPO_ROOT = path.resolve(__dirname, '../..');

// Runs argv[1] (a .ts file) after registering an @swc/core require hook, the way jest transforms tests.
const TS_BOOTSTRAP = `
const { transformSync } = require('@swc/core');
const { readFileSync } = require('node:fs');
require.extensions['.ts'] = (module, filename) => {
  const { code } = transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  });
  module._compile(code, filename);
};
const entry = require('node:path').resolve(process.argv[1]);
process.argv.splice(1, 1, entry);
require(entry);
`;

/**
 * Runs a TypeScript file from this repo in a child Node process without building (swc transforms
 * it on require, like jest does): for fixtures that must live in their own process, e.g. to watch
 * it exit on its own or to measure its RSS. `process.argv[1]` in the child is the entry file and
 * `process.argv[2…]` are `args`.
 */
export function spawnTs(entry: string, args: readonly string[] = [], opts: SpawnOptions = {}): SpawnedProcess {
  return spawnProcess(process.execPath, ['-e', TS_BOOTSTRAP, path.resolve(entry), ...args], { cwd: REPO_ROOT, ...opts });
}

/** Stops every process spawned here that is still running (SIGTERM, then SIGKILL). For `afterEach`. */
export async function stopAllProcesses(timeoutMs = 5000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop({ timeoutMs })));
}

/** Registers `afterEach(stopAllProcesses)` in the calling test file. */
export function stopProcessesAfterEach(timeoutMs = 5000): void {
  afterEach(() => stopAllProcesses(timeoutMs));
}

/**
 * Resident set size of a live process in bytes, from `VmRSS` in `/proc/<pid>/status` (Linux only).
 * @throws when the process does not exist or has no VmRSS (a zombie).
 */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match?.[1] === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

function describeTail(proc: SpawnedProcess): string {
  const tail = proc.lines.slice(-20).map((l) => `  [${l.stream}] ${l.line}`);
  return tail.length > 0 ? `last output:\n${tail.join('\n')}` : 'no output';
}

function waitForLineImpl(
  proc: SpawnedProcess,
  listeners: Set<(line: OutputLine) => void>,
  exitListeners: Set<() => void>,
  matcher: (line: string) => RegExpMatchArray | undefined,
  what: string,
  opts: WaitForLineOptions,
): Promise<RegExpMatchArray> {
  const want = opts.stream ?? 'any';
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const test = (entry: OutputLine): RegExpMatchArray | undefined =>
    want !== 'any' && entry.stream !== want ? undefined : matcher(entry.line);
  for (const entry of proc.lines.slice(opts.from ?? 0)) {
    const match = test(entry);
    if (match) return Promise.resolve(match);
  }
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      listeners.delete(onLine);
      exitListeners.delete(onExit);
    };
    const onLine = (entry: OutputLine): void => {
      const match = test(entry);
      if (match) {
        cleanup();
        resolve(match);
      }
    };
    const onExit = (): void => {
      cleanup();
      const info = proc.exitInfo;
      reject(
        new Error(
          `process ${proc.pid} exited (code ${String(info?.code)}, signal ${String(info?.signal)}) ` +
            `before printing ${what}; ${describeTail(proc)}`,
        ),
      );
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} from process ${proc.pid}; ${describeTail(proc)}`));
    }, timeoutMs);
    listeners.add(onLine);
    if (proc.exitInfo !== undefined) onExit();
    else exitListeners.add(onExit);
  });
}

async function stopImpl(proc: SpawnedProcess, signal: NodeJS.Signals, timeoutMs: number): Promise<ExitInfo> {
  if (proc.exitInfo !== undefined) return proc.exitInfo;
  proc.child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const escalate = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      proc.child.kill('SIGKILL');
      resolve();
    }, timeoutMs);
  });
  await Promise.race([proc.exited, escalate]);
  clearTimeout(timer);
  return proc.exited;
}
