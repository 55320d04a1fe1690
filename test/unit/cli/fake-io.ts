import { Writable } from 'node:stream';
import { Subject } from 'rxjs';
import type { CliIo, Closable, Runners, ShutdownSignal } from '../../../src/cli';
import { createLogger, silentLogger } from '../../../src/log';

/** A writable that keeps everything written to it. */
export class Capture extends Writable {
  text = '';
  /** Called with each chunk as it is written. */
  onWrite: ((chunk: string) => void) | null = null;
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    this.onWrite?.(chunk.toString());
    callback();
  }
  /** The pino lines written so far. */
  json(): Array<Record<string, unknown>> {
    return this.text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export interface Fakes {
  gateway: Closable & { url: string; port: number; close: jest.Mock };
  proxy: { close: jest.Mock };
  demo: { close: jest.Mock };
  /** The audit destination `openAudit` returns. */
  audit: { logger: ReturnType<typeof silentLogger>; reopen: jest.Mock; close: jest.Mock };
  /** `audit.logger`: what the components receive as `auditLogger`. */
  auditLogger: ReturnType<typeof silentLogger>;
  runners: { [K in keyof Runners]: jest.Mock };
}

export function fakeRunners(): Fakes {
  const gateway = { url: 'http://127.0.0.1:1234', port: 1234, close: jest.fn(async () => undefined) };
  const proxy = { close: jest.fn(async () => undefined) };
  const demo = { close: jest.fn(async () => undefined) };
  const auditLogger = silentLogger();
  const audit = { logger: auditLogger, reopen: jest.fn(), close: jest.fn(async () => undefined) };
  return {
    gateway,
    proxy,
    demo,
    audit,
    auditLogger,
    runners: {
      startGateway: jest.fn(async () => gateway),
      startProxy: jest.fn(() => proxy),
      runDemo: jest.fn(async () => demo),
      openAudit: jest.fn(() => audit),
    },
  };
}

export interface FakeIo extends CliIo {
  out: Capture;
  err: Capture;
  /** Process logger output (both 'stdout' and 'stderr' loggers). */
  logs: Capture;
  signals: Subject<ShutdownSignal>;
  loggerStreams: Array<'stdout' | 'stderr'>;
  fakes: Fakes;
}

export function fakeIo(env: NodeJS.ProcessEnv = {}): FakeIo {
  const out = new Capture();
  const err = new Capture();
  const logs = new Capture();
  const signals = new Subject<ShutdownSignal>();
  const fakes = fakeRunners();
  const loggerStreams: Array<'stdout' | 'stderr'> = [];
  return {
    stdout: out,
    stderr: err,
    env,
    signals$: signals,
    createLogger: ({ level, stream }) => {
      loggerStreams.push(stream);
      return createLogger({ level, destination: logs });
    },
    runners: fakes.runners,
    out,
    err,
    logs,
    signals,
    loggerStreams,
    fakes,
  };
}

/** Lets pending promise callbacks and I/O callbacks run, until `predicate` holds (no fixed sleeps). */
export async function until(predicate: () => boolean, maxTurns = 1000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (predicate()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error('condition not reached');
}

/** A promise with its resolve/reject exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void; reject(err: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
