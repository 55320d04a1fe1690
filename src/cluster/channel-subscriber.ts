import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { asyncScheduler, type SchedulerLike, type Subscription } from '../rx';

/**
 * The cluster's pub/sub connection (configuration changes, src/cluster/config-sync.ts): every
 * message of one channel, across reconnects, until closed. Messages published while it is down are
 * not replayed; the configuration sync reads the stored change again whenever Redis returns.
 */
export interface ChannelSubscriber {
  /** Calls `handler` with every message on the channel; the first call connects. */
  listen(handler: (message: string) => void): void;
  close(): Promise<void>;
}

/** Delay before the subscriber's `failures`-th reconnect in a row (the store's backoff). */
export type Backoff = (failures: number) => number;

/** A connection's `message` listener that hands each message of `channel` to every handler. */
function deliverTo(channel: string, handlers: ReadonlyArray<(message: string) => void>): (ch: string, message: string) => void {
  return (ch, message) => {
    if (ch === channel) for (const h of handlers) h(message);
  };
}

/**
 * A single Redis or a Sentinel-managed primary: a connection of the client's own (`duplicate()`
 * keeps its capped reconnect backoff, and ioredis subscribes again after every reconnect).
 */
export function duplicateSubscriber(client: Redis, channel: string): ChannelSubscriber {
  const subscriber = client.duplicate();
  subscriber.on('error', () => undefined); // the main connection reports Redis being down
  let started = false;
  const handlers: Array<(message: string) => void> = [];
  return {
    listen(handler) {
      handlers.push(handler);
      if (started) return;
      started = true;
      subscriber.on('message', deliverTo(channel, handlers));
      // enableOfflineQueue is off: subscribe once connected (ioredis re-subscribes after that).
      const subscribe = (): void => void subscriber.subscribe(channel).catch(() => undefined);
      subscriber.once('ready', subscribe);
      void subscriber.connect().catch(() => undefined);
    },
    async close() {
      await subscriber.quit().catch(() => subscriber.disconnect());
    },
  };
}

/**
 * Pub/sub on a Redis Cluster without ioredis's cluster subscriber (decisions.md D85). That one
 * reconnects "as quickly as possible" by design: a refused connection ends its subscriber at once
 * and it picks another node at once, so with the whole cluster down a replica made ~4,500
 * connection attempts a second for as long as the outage lasted (redis/ioredis#2030). Classic
 * pub/sub in a Redis Cluster reaches every node's subscribers, so one plain connection to any node
 * receives every change. This one connects to a node the cluster client currently knows (the
 * configured ones until it knows any), never reconnects that connection itself, and after a loss
 * tries the next node after the store's backoff; a connection that got ready resets the backoff.
 */
export class ClusterChannelSubscriber implements ChannelSubscriber {
  readonly #handlers: Array<(message: string) => void> = [];
  #client: Redis | null = null;
  #turn = 0;
  #failures = 0;
  #retry: Subscription | null = null;
  #started = false;
  #closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly seeds: ReadonlyArray<{ host: string; port: number }>,
    private readonly options: RedisOptions,
    private readonly channel: string,
    private readonly backoff: Backoff,
    private readonly RedisClient: new (options: RedisOptions) => Redis,
    private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {}

  listen(handler: (message: string) => void): void {
    this.#handlers.push(handler);
    if (this.#started) return;
    this.#started = true;
    this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#retry?.unsubscribe();
    this.#retry = null;
    const client = this.#client;
    this.#client = null;
    if (client) await client.quit().catch(() => client.disconnect());
  }

  /** The nodes to take turns on: those the cluster client knows now, else the configured ones. */
  #nodes(): ReadonlyArray<{ host: string; port: number }> {
    const known = this.cluster.nodes('all').map((n) => ({ host: n.options.host ?? '', port: n.options.port ?? 0 }));
    const usable = known.filter((n) => n.host !== '' && n.port > 0);
    return usable.length > 0 ? usable : this.seeds;
  }

  #connect(): void {
    if (this.#closed) return;
    const nodes = this.#nodes();
    const node = nodes[this.#turn++ % nodes.length]!;
    // No reconnect of its own (retryStrategy null): a refused or lost connection ends, and #connect
    // runs again after the backoff, on the next node.
    const client = new this.RedisClient({ ...this.options, host: node.host, port: node.port, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    this.#client = client;
    client.on('error', () => undefined); // the cluster client reports Redis being down
    client.on('message', deliverTo(this.channel, this.#handlers));
    client.once('ready', () => {
      this.#failures = 0;
      client.subscribe(this.channel).catch(() => client.disconnect());
    });
    client.once('end', () => {
      if (this.#client !== client || this.#closed) return;
      this.#client = null;
      this.#retry = this.scheduler.schedule(() => {
        this.#retry = null;
        this.#connect();
      }, this.backoff(this.#failures++));
    });
    void client.connect().catch(() => undefined);
  }
}
