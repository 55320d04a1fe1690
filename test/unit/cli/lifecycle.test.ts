import { EventEmitter } from 'node:events';
import { BehaviorSubject, Subject } from 'rxjs';
import { EXIT, processSignals$, serveUntilSignal, signalExitCode, type ShutdownSignal } from '../../../src/cli';
import { silentLogger } from '../../../src/log';
import { deferred, until } from './fake-io';

const logger = silentLogger();

function closable(close: () => Promise<void> = async () => undefined): { close: jest.Mock } {
  return { close: jest.fn(close) };
}

describe('signalExitCode', () => {
  it('is 128 + the signal number', () => {
    expect(signalExitCode('SIGINT')).toBe(130);
    expect(signalExitCode('SIGTERM')).toBe(143);
  });
});

describe('processSignals$', () => {
  it('emits SIGINT / SIGTERM and removes its listeners on unsubscribe', () => {
    const proc = new EventEmitter();
    const seen: ShutdownSignal[] = [];
    const sub = processSignals$(proc).subscribe((s) => seen.push(s));
    expect(proc.listenerCount('SIGINT')).toBe(1);
    expect(proc.listenerCount('SIGTERM')).toBe(1);
    proc.emit('SIGTERM');
    proc.emit('SIGINT');
    expect(seen).toEqual(['SIGTERM', 'SIGINT']);
    sub.unsubscribe();
    expect(proc.listenerCount('SIGINT')).toBe(0);
    expect(proc.listenerCount('SIGTERM')).toBe(0);
  });
});

describe('serveUntilSignal', () => {
  it('closes on the first signal with the grace period, then resolves 0 and unsubscribes', async () => {
    const signals$ = new Subject<ShutdownSignal>();
    const service = closable();
    const done = serveUntilSignal({ start: async () => service, signals$, logger, graceMs: 1234 });
    await until(() => signals$.observed);
    signals$.next('SIGTERM');
    expect(await done).toBe(EXIT.ok);
    expect(service.close).toHaveBeenCalledWith(1234);
    expect(signals$.observed).toBe(false);
  });

  it('resolves 130/143 on a second signal without waiting for close', async () => {
    const signals$ = new Subject<ShutdownSignal>();
    const closing = deferred();
    const service = closable(() => closing.promise);
    const done = serveUntilSignal({ start: async () => service, signals$, logger });
    signals$.next('SIGINT');
    await until(() => service.close.mock.calls.length > 0);
    signals$.next('SIGTERM');
    expect(await done).toBe(143);
    expect(service.close).toHaveBeenCalledTimes(1);
    closing.resolve();
  });

  it('treats a start that throws synchronously as a start-up failure', async () => {
    const signals$ = new Subject<ShutdownSignal>();
    const done = serveUntilSignal({
      start: () => {
        throw new Error('sync');
      },
      signals$,
      logger,
    });
    expect(await done).toBe(EXIT.failure);
    expect(signals$.observed).toBe(false);
  });

  it('treats a close that throws synchronously as a failed close', async () => {
    const signals$ = new Subject<ShutdownSignal>();
    const service = {
      close: (): Promise<void> => {
        throw new Error('sync close');
      },
    };
    const done = serveUntilSignal({ start: async () => service, signals$, logger });
    signals$.next('SIGTERM');
    expect(await done).toBe(EXIT.failure);
  });

  it('closes a service that starts after a second signal already ended the run', async () => {
    const signals$ = new Subject<ShutdownSignal>();
    const starting = deferred<{ close: jest.Mock }>();
    const done = serveUntilSignal({ start: () => starting.promise, signals$, logger });
    signals$.next('SIGINT');
    signals$.next('SIGINT');
    expect(await done).toBe(130);
    const late = closable();
    starting.resolve(late);
    await until(() => late.close.mock.calls.length > 0);
  });

  it('copes with signals emitted synchronously on subscribe', async () => {
    const signals$ = new BehaviorSubject<ShutdownSignal>('SIGTERM');
    const service = closable();
    expect(await serveUntilSignal({ start: async () => service, signals$, logger })).toBe(EXIT.ok);
    expect(service.close).toHaveBeenCalledTimes(1);
    expect(signals$.observed).toBe(false);
  });
});
