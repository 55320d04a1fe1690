/**
 * A TCP relay on loopback for fault injection between a proxy and its gateway: the proxy dials the
 * relay, the relay dials the target and copies bytes both ways. Faults are switched at run time:
 * delay, stall (stop copying but keep both sockets open), cut (destroy every connection) and refuse
 * (destroy new connections at once, like a peer that is down).
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/** What the relay has done so far (for assertions and reports). */
export interface RelayCounters {
  /** Connections accepted from clients (refused ones included). */
  accepted: number;
  /** Connections destroyed at once because `refuse` was on or the target was unreachable. */
  refused: number;
  /** Connections destroyed by `cut()`. */
  cut: number;
  /** Connections currently open (client side). */
  open: number;
  /** Bytes copied client → target and target → client. */
  bytesUp: number;
  bytesDown: number;
  /** Chunks held back because their connection was stalled (never forwarded). */
  chunksDropped: number;
  /** `Date.now()` of the last chunk forwarded client → target / target → client (0: none yet). */
  lastUpAt: number;
  lastDownAt: number;
}

export interface Relay {
  /** Loopback port the relay listens on. */
  readonly port: number;
  /** `127.0.0.1:port`, to build URLs. */
  readonly hostPort: string;
  readonly counters: Readonly<RelayCounters>;
  /** Adds `ms` of latency to every chunk from now on (0 = none). Order within a direction is kept. */
  setDelay(ms: number): void;
  /**
   * Stops forwarding in both directions on every connection open now (bytes read are discarded;
   * the sockets stay open, so neither end sees a FIN or RST). Connections made later forward
   * normally unless `alsoNew` is true. Returns how many connections were stalled.
   */
  stall(alsoNew?: boolean): number;
  /** Forwards again on new connections; connections stalled before stay stalled (their bytes are gone). */
  unstall(): void;
  /** Destroys every open connection (both sides see a reset). Returns how many were cut. */
  cut(): number;
  /** While true, new connections are destroyed as soon as they are accepted. */
  refuse(on: boolean): void;
  /** Points new connections at another target port (e.g. a restarted gateway). */
  retarget(port: number): void;
  /** Destroys every connection and closes the listener. Idempotent. */
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  target: net.Socket;
  stalled: boolean;
}

/**
 * Starts a relay on `127.0.0.1:0` to `127.0.0.1:targetPort`. Only loopback is ever dialled.
 * @throws when the listener cannot bind.
 */
export async function startRelay(targetPort: number): Promise<Relay> {
  let target = targetPort;
  let delayMs = 0;
  let refusing = false;
  let stallNew = false;
  const pairs = new Set<Pair>();
  const counters: RelayCounters = { accepted: 0, refused: 0, cut: 0, open: 0, bytesUp: 0, bytesDown: 0, chunksDropped: 0, lastUpAt: 0, lastDownAt: 0 };

  const pipe = (pair: Pair, from: net.Socket, to: net.Socket, up: boolean): void => {
    from.on('data', (chunk: Buffer) => {
      if (pair.stalled) {
        counters.chunksDropped++;
        return;
      }
      const send = (): void => {
        if (pair.stalled || to.destroyed) return;
        if (up) {
          counters.bytesUp += chunk.length;
          counters.lastUpAt = Date.now();
        } else {
          counters.bytesDown += chunk.length;
          counters.lastDownAt = Date.now();
        }
        // Backpressure: pause the reader until the writer drains (a relay must not buffer a stream).
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  };

  const server = net.createServer((client) => {
    counters.accepted++;
    client.on('error', () => undefined);
    if (refusing) {
      counters.refused++;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    upstream.on('error', () => undefined);
    const pair: Pair = { client, target: upstream, stalled: stallNew };
    pairs.add(pair);
    counters.open++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      pairs.delete(pair);
      counters.open--;
      client.destroy();
      upstream.destroy();
    };
    client.once('close', finish);
    upstream.once('close', () => {
      // The target refused or went away: the client sees it as a reset, like a dead gateway.
      if (!pair.stalled) finish();
    });
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    pipe(pair, client, upstream, true);
    pipe(pair, upstream, client, false);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | null = null;

  const cutAll = (): number => {
    let n = 0;
    for (const p of [...pairs]) {
      n++;
      p.client.resetAndDestroy();
      p.target.resetAndDestroy();
    }
    counters.cut += n;
    return n;
  };

  return {
    port,
    hostPort: `127.0.0.1:${port}`,
    counters,
    setDelay: (ms) => {
      delayMs = ms;
    },
    stall: (alsoNew = false) => {
      stallNew = alsoNew;
      for (const p of pairs) p.stalled = true;
      return pairs.size;
    },
    unstall: () => {
      stallNew = false;
    },
    cut: cutAll,
    refuse: (on) => {
      refusing = on;
    },
    retarget: (p) => {
      target = p;
    },
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        cutAll();
      })),
  };
}
