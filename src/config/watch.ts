import * as fs from 'node:fs';
import * as path from 'node:path';
import { Observable, debounceTime, map, retry, timer } from '../rx';
import { TunnelError } from '../errors';

export interface WatchOptions {
  /** Quiet time after the last change before emitting (editors and `kubectl` write in several steps). */
  debounceMs?: number;
  /** Delay before watching again after the watcher failed (e.g. the folder was replaced). */
  rewatchDelayMs?: number;
  /** Told about each watcher failure (the watch is re-established after `rewatchDelayMs`). */
  onError?: (err: TunnelError) => void;
}

/**
 * Whether a change event in a watched folder can concern one of `names` (base names): the file
 * itself (written in place, or renamed over by an editor or `mv`), a Kubernetes/Docker `..data`
 * symlink swap (every name starting with `..`), or an event without a name (some platforms). Other
 * files in the folder - an audit trail or a log written next to the config, editor swap files - are
 * ignored: each of their writes would otherwise wake the watcher and restart its debounce.
 */
export function concernsWatchedFile(names: readonly string[], filename: string | Buffer | null | undefined): boolean {
  if (filename === null || filename === undefined) return true;
  const name = typeof filename === 'string' ? filename : filename.toString('utf8');
  return name.startsWith('..') || names.includes(name);
}

/**
 * Emits (debounced) whenever `file` may have changed: anything concerning it in its folder. The folder, not the file, is
 * watched: Kubernetes and Docker secrets and configmaps are updated by swapping a symlink (`..data`),
 * and editors replace files by rename; a watch on the file itself would go stale after the first
 * swap. Consumers re-read the file and ignore emissions where its content did not change.
 *
 * Never errors: a failing watcher is reported to `onError` and re-established. Unsubscribing closes
 * the watcher and cancels every timer.
 */
export function watchFileChanges(file: string, opts: WatchOptions = {}): Observable<void> {
  const dir = path.dirname(path.resolve(file));
  const names = [path.basename(file)];
  let failed = false;
  const raw$ = new Observable<void>((subscriber) => {
    let watcher: fs.FSWatcher;
    try {
      watcher = fs.watch(dir, { persistent: false }, (_event, filename) => {
        if (concernsWatchedFile(names, filename)) subscriber.next();
      });
    } catch (err) {
      subscriber.error(new TunnelError('TUNNEL_WATCH_FAILED', `cannot watch ${dir}: ${(err as Error).message}`, { cause: err, retryable: true }));
      return undefined;
    }
    // Changes while the watcher was down were missed: have the consumer re-read once.
    if (failed) subscriber.next();
    watcher.on('error', (err) => {
      subscriber.error(new TunnelError('TUNNEL_WATCH_FAILED', `watching ${dir} failed: ${err.message}`, { cause: err, retryable: true }));
    });
    return () => watcher.close();
  });
  return raw$.pipe(
    retry({
      delay: (err: unknown) => {
        failed = true;
        if (err instanceof TunnelError) opts.onError?.(err);
        return timer(opts.rewatchDelayMs ?? 1000);
      },
    }),
    debounceTime(opts.debounceMs ?? 100),
    map(() => undefined),
  );
}
