import * as fs from 'node:fs';
import { EMPTY, fromEvent, map, merge, type Observable, type Subscription } from '../rx';
// By file: every process takes its SIGHUP from here, but only a gateway loads its configuration code
// (on its first reload's start, below; decisions.md D88).
import type * as GatewayConfigModule from '../config/gateway';
import { CONFIG_INVALID } from '../config/errors';
import type { GatewayConfig } from '../config/types';
import { watchFileChanges } from '../config/watch';
import { describeError, hasCode } from '../errors';
import { F, type Logger } from '../log';

/** The signal that reloads configuration (gateway) or the secret file (proxy). */
export type ReloadSignal = 'SIGHUP';

/**
 * SIGHUP of `proc`. While subscribed, Node's default for SIGHUP (exit) is replaced by our handler;
 * unsubscribing restores it. SIGINT/SIGTERM are not touched (see `processSignals$`).
 */
export function reloadSignals$(proc: NodeJS.EventEmitter = process): Observable<ReloadSignal> {
  return fromEvent(proc, 'SIGHUP').pipe(map((): ReloadSignal => 'SIGHUP'));
}

export interface GatewayReloadOptions {
  /** The config file the gateway was started from; undefined when configured by env only. */
  file: string | undefined;
  env: NodeJS.ProcessEnv;
  signals$: Observable<ReloadSignal>;
  /** The running gateway. */
  reload: (config: GatewayConfig) => void;
  /** The configuration it runs with now (to warn about changes that need a restart). */
  initial: GatewayConfig;
  logger: Logger;
  /** Debounce of file-change events; default 200 ms. */
  debounceMs?: number;
}

/**
 * Reloads the gateway configuration on SIGHUP and whenever the config file changes (its folder is
 * watched; see `watchFileChanges`). A file change that leaves the text as it was is ignored; SIGHUP
 * always reloads. A configuration that fails validation is logged at error (TUNNEL_CONFIG_INVALID,
 * secrets masked) and the running one stays. `listen` and `tls` paths are read at start-up only.
 *
 * @returns the subscription; unsubscribing stops the watcher and the signal handler.
 */
export function startGatewayReloads(opts: GatewayReloadOptions): Subscription {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading, see the imports
  const { loadGatewayConfig } = require('../config/gateway') as typeof GatewayConfigModule;
  const { file, logger } = opts;
  let current = opts.initial;
  let lastText: string | null = file === undefined ? null : readText(file);
  const fileChanges$ =
    file === undefined
      ? EMPTY
      : watchFileChanges(file, {
          debounceMs: opts.debounceMs ?? 200,
          onError: (err) => logger.error({ [F.code]: err.code, [F.reason]: err.message }, 'cannot watch the configuration file; retrying'),
        }).pipe(map(() => 'file changed'));

  const reloadNow = (trigger: string): void => {
    if (file === undefined) {
      logger.warn({ trigger }, 'no configuration file (--config / MCP_TUNNEL_CONFIG); nothing to reload');
      return;
    }
    const text = readText(file);
    if (trigger !== 'SIGHUP' && text === lastText) return;
    lastText = text;
    let next: GatewayConfig;
    try {
      next = loadGatewayConfig({ file, env: opts.env });
    } catch (err) {
      const code = hasCode(err, CONFIG_INVALID) ? CONFIG_INVALID : 'TUNNEL_INTERNAL';
      logger.error(
        { [F.code]: code, [F.reason]: code === CONFIG_INVALID ? (err as Error).message : describeError(err), trigger },
        'configuration reload failed; keeping the running configuration',
      );
      return;
    }
    if (JSON.stringify(next.listen) !== JSON.stringify(current.listen)) {
      logger.warn({ trigger }, 'listen address changed in the configuration file; it applies only after a restart');
    }
    logger.info({ trigger }, 'reloading configuration');
    try {
      opts.reload(next);
      current = next;
    } catch (err) {
      logger.error({ [F.code]: 'TUNNEL_INTERNAL', [F.err]: describeError(err), trigger }, 'configuration reload failed; keeping the running configuration');
    }
  };

  return merge(opts.signals$, fileChanges$).subscribe((trigger) => reloadNow(trigger));
}

/** The file's text, or null when it cannot be read now (the loader reports why). */
function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
