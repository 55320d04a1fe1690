import { filter, type Subscription } from '../rx';
import type { GatewayConfig } from '../config/types';
import { F, type Logger } from '../log';
import { CLUSTER_CODES } from './errors';
import { openChange, sealChange, sharedPart, withShared, type ConfigChange } from './shared-config';
import type { ClusterStore } from './store';

export interface ConfigSyncOptions {
  replicaId: string;
  store: ClusterStore;
  secret: () => string;
  /** The configuration this replica serves with now. */
  current: () => GatewayConfig;
  /** Applies a configuration received from another replica (no re-publication). */
  apply: (next: GatewayConfig) => void;
  logger: Logger;
  now?: () => number;
}

/**
 * Carries configuration changes between replicas: a reload applied on one replica (SIGHUP, the
 * API) is sealed with the cluster secret and published; every other replica applies the shared
 * part, so a secret rotation reaches the connections wherever they are held (each replica's own
 * SecretRotation re-authenticates or drains them). Last writer wins by time; a change made before
 * this replica started is not adopted (its own configuration file is newer news). After a Redis
 * outage the latest stored change is read again, so nothing announced meanwhile is missed.
 */
export class ConfigSync {
  #lastAt: number;
  readonly #sub: Subscription;

  constructor(private readonly opts: ConfigSyncOptions) {
    this.#lastAt = (opts.now ?? Date.now)();
    opts.store.onConfig((sealed) => this.#receive(sealed));
    // Resync on every return of Redis (the first `ready` included: a change may predate our subscription).
    this.#sub = opts.store.health$.pipe(filter((h) => h === 'ready')).subscribe(() => void this.#resync());
  }

  /** Publishes a change applied here; a Redis outage only delays it to the others (logged). */
  async publish(config: GatewayConfig): Promise<void> {
    const change: ConfigChange = { from: this.opts.replicaId, at: Math.max((this.opts.now ?? Date.now)(), this.#lastAt + 1), shared: sharedPart(config) };
    this.#lastAt = change.at;
    try {
      await this.opts.store.publishConfig(sealChange(change, this.opts.secret()));
      this.opts.logger.info({ at: change.at }, 'cluster: configuration change published to the other replicas');
    } catch (err) {
      this.opts.logger.warn({ [F.code]: CLUSTER_CODES.redisUnavailable, [F.reason]: (err as Error).message }, 'cluster: configuration change NOT published (Redis unreachable); other replicas keep the previous one');
    }
  }

  close(): void {
    this.#sub.unsubscribe();
  }

  async #resync(): Promise<void> {
    const sealed = await this.opts.store.readConfig().catch(() => null);
    if (sealed !== null) this.#receive(sealed);
  }

  #receive(sealed: string): void {
    const change = openChange(sealed, this.opts.secret());
    if (change === null) {
      this.opts.logger.warn({ [F.code]: CLUSTER_CODES.configUnreadable }, 'cluster: configuration change ignored: not sealed with this replica\'s cluster secret');
      return;
    }
    if (change.from === this.opts.replicaId || change.at <= this.#lastAt) return;
    this.#lastAt = change.at;
    this.opts.logger.info({ [F.replica]: change.from, at: change.at }, 'cluster: applying a configuration change from another replica');
    this.opts.apply(withShared(this.opts.current(), change.shared));
  }
}
