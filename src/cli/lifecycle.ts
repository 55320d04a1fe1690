import { fromEvent, map, merge, type Observable, type Subscription } from '../rx';
import { F, type Logger } from '../log';
import { operatorStartupFailure } from './startup-failure';
import type { Closable, ShutdownSignal } from './types';

/** Process exit codes of the CLI. */
export const EXIT = {
  ok: 0,
  /** Start-up failed, or the service failed to close cleanly. */
  failure: 1,
  /** Bad command line or invalid configuration. */
  usage: 2,
} as const;

/** 128 + signal number, the shell convention for "killed by": 130 for SIGINT, 143 for SIGTERM. */
export function signalExitCode(signal: ShutdownSignal): number {
  return signal === 'SIGINT' ? 130 : 143;
}

/**
 * SIGINT and SIGTERM of `proc`. While subscribed, Node's default "exit at once" is replaced by our
 * handler; unsubscribing restores it.
 */
export function processSignals$(proc: NodeJS.EventEmitter = process): Observable<ShutdownSignal> {
  return merge(
    fromEvent(proc, 'SIGINT').pipe(map((): ShutdownSignal => 'SIGINT')),
    fromEvent(proc, 'SIGTERM').pipe(map((): ShutdownSignal => 'SIGTERM')),
  );
}

export interface ServeOptions {
  /** Starts the service; a rejection (or throw) is a start-up failure. */
  start: () => Promise<Closable>;
  signals$: Observable<ShutdownSignal>;
  logger: Logger;
  /** Passed to `close()`; undefined leaves the component's own default. */
  graceMs?: number;
}

/**
 * Runs a service until a signal, and returns the process exit code:
 * - start fails → logged, 1;
 * - first signal → `close()`, then 0 (1 if close fails). A signal during start-up closes the service
 *   as soon as it has started;
 * - second signal → 130 / 143 at once, without waiting for `close()`.
 *
 * Signals are watched from the moment this is called, so none is lost during start-up.
 */
export function serveUntilSignal(opts: ServeOptions): Promise<number> {
  const { logger } = opts;
  return new Promise<number>((resolve) => {
    let done = false;
    let signals = 0;
    let service: Closable | null = null;
    let closing = false;
    // `let` + later assignment: finish() may run during subscribe(), before the assignment.
    let subscription: Subscription | undefined = undefined;

    const finish = (code: number): void => {
      if (done) return;
      done = true;
      subscription?.unsubscribe();
      resolve(code);
    };

    const beginClose = (): void => {
      const running = service;
      if (closing || running === null) return;
      closing = true;
      // Via then(): a close() that throws synchronously is handled like one that rejects.
      Promise.resolve()
        .then(() => running.close(opts.graceMs))
        .then(
          () => {
            logger.info('stopped');
            finish(EXIT.ok);
          },
          (err: unknown) => {
            logger.error({ [F.err]: err }, 'failed to close cleanly');
            finish(EXIT.failure);
          },
        );
    };

    subscription = opts.signals$.subscribe((signal) => {
      signals += 1;
      if (signals === 1) {
        logger.info({ signal }, 'shutting down (send the signal again to exit at once)');
        beginClose();
      } else {
        logger.warn({ signal }, 'second signal: exiting without waiting for close');
        finish(signalExitCode(signal));
      }
    });
    if (done) subscription.unsubscribe();

    // `start` may throw synchronously; run it inside the promise chain so that counts as a failure.
    Promise.resolve()
      .then(opts.start)
      .then(
        (started) => {
          if (done) {
            // We already exited on a second signal; do not leave the late service running.
            Promise.resolve()
              .then(() => started.close(opts.graceMs))
              .catch(() => undefined);
            return;
          }
          service = started;
          if (signals > 0) beginClose();
        },
        (err: unknown) => {
          // The operator's to fix (port in use, bad certificate): one line, no stack trace.
          const known = operatorStartupFailure(err);
          logger.error(known?.fields ?? { [F.err]: err }, 'failed to start');
          finish(known === null ? EXIT.failure : EXIT[known.exit]);
        },
      );
  });
}

/** Writes out whatever the logger still buffers; never rejects. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      logger.flush(() => resolve());
    } catch {
      resolve();
    }
  });
}
