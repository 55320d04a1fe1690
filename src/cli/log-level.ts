import { fromEvent, map, type Observable, type Subscription } from '../rx';
import type { Logger } from '../log';

/** The signal that cycles the log level of a running gateway or proxy. */
export type LevelSignal = 'SIGUSR2';

/**
 * SIGUSR2 of `proc`. While subscribed, Node's default for it (exit) is replaced by our handler;
 * unsubscribing restores it.
 */
export function levelSignals$(proc: NodeJS.EventEmitter = process): Observable<LevelSignal> {
  return fromEvent(proc, 'SIGUSR2').pipe(map((): LevelSignal => 'SIGUSR2'));
}

/** The level SIGUSR2 moves to: info → debug → trace → info; any other level (warn, error…) → info. */
export function nextLevel(current: string): string {
  if (current === 'info') return 'debug';
  if (current === 'debug') return 'trace';
  return 'info';
}

/**
 * Sets the process logger's level. Every child logger made without a level of its own (all of
 * ours: `componentLogger`) follows it, since pino children inherit through their prototype.
 * Logs the change (at info, after switching, so the line is seen whatever the direction).
 */
export function setLogLevel(root: Logger, level: string, trigger: string): void {
  const previous = root.level;
  if (previous === level) return;
  root.level = level;
  // A level above info (warn, error) would hide this line; the change is still worth a record.
  // Not `level`: pino's own key (a second one would be a duplicated JSON key).
  const line = { previous, current: level, trigger };
  if (root.isLevelEnabled('info')) root.info(line, 'log level changed');
  else root.warn(line, 'log level changed');
}

/** Cycles the level on each SIGUSR2 while subscribed. */
export function cycleLevelOn(signals$: Observable<LevelSignal> | undefined, root: Logger): Subscription | null {
  return signals$?.subscribe(() => setLogLevel(root, nextLevel(root.level), 'SIGUSR2')) ?? null;
}
