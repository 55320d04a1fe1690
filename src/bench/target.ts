/**
 * What a scenario needs to know about one way of reaching the upstream: direct, the tunnel, or a
 * peer (`ssh -R`, nginx). The same upstream process serves all of them.
 */
import http from 'node:http';

export interface Target {
  /** Column name in the table. */
  readonly name: string;
  /** `http://127.0.0.1:PORT` that clients call. */
  readonly origin: string;
  /** Path of the ~1 KB POST. */
  readonly postPath: string;
  bytesPath(n: number): string;
  ssePath(events: number, intervalMs: number): string;
  /** Extra request headers (the tunnel's API key). */
  readonly headers: Readonly<Record<string, string>>;
  /** The processes that make up the hop, by side (e.g. gateway / proxy); none for direct. */
  pids(): Record<string, number[]>;
  /** Restarts the inside agent (proxy, ssh client); ms from its start to the first successful request. */
  restartAgent?(): Promise<number>;
  /** Restarts the outside end (gateway); ms from its start to the first successful request. */
  restartGateway?(): Promise<number>;
  close(): Promise<void>;
}

/** The body every POST scenario sends: a ~1 KB JSON-RPC tools/call. */
export const POST_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'x'.repeat(900) } },
});

export const POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** One POST through `t`; resolves with its status (0 when the connection failed). No keep-alive. */
export function postOnce(t: Target, timeoutMs = 5_000): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(
      `${t.origin}${t.postPath}`,
      { method: 'POST', agent: false, headers: { ...POST_HEADERS, ...t.headers, connection: 'close' }, timeout: timeoutMs },
      (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', () => resolve(0));
      },
    );
    req.once('error', () => resolve(0));
    req.once('timeout', () => req.destroy());
    req.end(POST_BODY);
  });
}

/**
 * Polls with POSTs until one gets 200 and resolves with the ms since `since` (hrtime ns).
 * Rejects after `limitMs`.
 */
export async function untilServed(t: Target, since: bigint, limitMs = 30_000): Promise<number> {
  for (;;) {
    const status = await postOnce(t, limitMs);
    const ms = Number(process.hrtime.bigint() - since) / 1e6;
    if (status === 200) return ms;
    if (ms > limitMs) throw new Error(`${t.name}: no successful request ${limitMs} ms after restart (last status ${status})`);
    // A refused connection comes back at once: do not spin the CPU the restarting process needs.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The upstream itself. */
export function directTarget(upstreamOrigin: string): Target {
  return {
    name: 'direct',
    origin: upstreamOrigin,
    postPath: '/mcp',
    bytesPath: (n) => `/bytes?n=${n}`,
    ssePath: (events, intervalMs) => `/sse?events=${events}&intervalMs=${intervalMs}`,
    headers: {},
    pids: () => ({}),
    close: async () => undefined,
  };
}

/** A peer that forwards a port to the upstream unchanged (ssh -R, nginx): same paths as direct. */
export function forwardedTarget(name: string, origin: string, rest: Pick<Target, 'pids' | 'close' | 'restartAgent'>): Target {
  return { ...directTarget(origin), name, ...rest };
}
