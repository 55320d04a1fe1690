import { Subject, Subscription, type Observable } from '../rx';
import { readSecretFile } from '../config/secret-file';
import { watchFileChanges } from '../config/watch';
import { describeError } from '../errors';
import { F, type Logger } from '../log';

export interface SecretSourceOptions {
  /** The secret loaded at start-up. */
  initial: string;
  /** `MCP_TUNNEL_SECRET_FILE`, or null when the secret came from the environment (never changes). */
  file: string | null;
  logger: Logger;
  /** Debounce of file-change events; default 100 ms. */
  debounceMs?: number;
}

/**
 * The proxy's current tunnel secret. Re-reads the secret file when its folder changes (symlink swaps
 * of Kubernetes/Docker secrets included) and on {@link reload} (SIGHUP). A file that cannot be read
 * or holds an unacceptable secret is logged at error and ignored: the previous secret stays in use
 * and the file keeps being watched. Emits on {@link changes$} only when the secret really changed.
 */
export class SecretSource {
  private secret: string;
  private readonly changes = new Subject<void>();
  private readonly subs = new Subscription();

  /** Emits after the secret changed, or was re-read on SIGHUP (never with the secret itself). */
  readonly changes$: Observable<void> = this.changes.asObservable();

  constructor(private readonly opts: SecretSourceOptions) {
    this.secret = opts.initial;
    const file = opts.file;
    if (file !== null) {
      this.subs.add(
        watchFileChanges(file, {
          debounceMs: opts.debounceMs ?? 100,
          onError: (err) => opts.logger.error({ [F.code]: err.code, [F.reason]: err.message }, 'cannot watch the tunnel secret file; retrying'),
        }).subscribe(() => this.reload('file changed')),
      );
    }
  }

  /** The secret to use now. Never log it. */
  current(): string {
    return this.secret;
  }

  /**
   * Re-reads the secret file now. With `trigger` `SIGHUP`, {@link changes$} emits even when the
   * secret is unchanged, so connections a gateway refused earlier try again. Without a file (secret
   * from the environment) this only logs that there is nothing to reload.
   */
  reload(trigger: string): void {
    const { file, logger } = this.opts;
    // An operator's SIGHUP retries even an unchanged secret (e.g. after the gateway was fixed).
    const explicit = trigger === 'SIGHUP';
    if (file === null) {
      logger.warn({ trigger }, 'the tunnel secret comes from the environment; nothing to reload (use MCP_TUNNEL_SECRET_FILE for rotation)');
      return;
    }
    let next: string;
    try {
      next = readSecretFile(file);
    } catch (err) {
      logger.error(
        { [F.code]: 'TUNNEL_SECRET_FILE_INVALID', [F.reason]: describeError(err), trigger },
        'cannot use the tunnel secret file; keeping the current secret and watching the file',
      );
      return;
    }
    if (next === this.secret && !explicit) {
      logger.debug({ trigger }, 'tunnel secret file unchanged');
      return;
    }
    this.secret = next;
    logger.info({ trigger }, 'tunnel secret (re)loaded; re-authenticating live connections not yet on it in-band');
    this.changes.next();
  }

  close(): void {
    this.subs.unsubscribe();
    this.changes.complete();
  }
}
