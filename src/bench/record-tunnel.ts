/**
 * `npm run bench:record`'s tunnel rounds (docs/replay.md "Overhead"): the same big SSE stream through
 * the real tunnel - gateway and proxy CLI processes with the audit trail on, as `npm run bench` runs
 * them - under four server names routed to the same upstream: `bench-record`, which both sides record
 * (the gateway's `record.servers`, the proxy's `MCP_TUNNEL_RECORD_SERVERS`), `bench-record-gateway`
 * and `bench-record-proxy`, which only that side records, and the bench config's own `bench-sse`
 * (its upstream's `/sse`, here the source), which neither does. Every variant runs in the same two
 * processes, so they share every process-level state (JIT, heap, sockets) and differ only by the
 * recording. Each side's recording file is a FIFO drained at the throttled rate; after each recorded
 * round the destinations are unthrottled until the recordings have caught up, so every round starts
 * with empty queues, as after any quiet spell.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FooterRecord } from '../replay';
import { cpuSeconds, delay, Procs } from './procs';
import { throttledFile, type ThrottledFile } from './record-hop';
import { startTunnel, type TunnelTarget } from './tunnel';

/** Streams `url` (with `headers`) to its end in the client process: bytes and ms. */
export type StreamClient = (url: string, headers: Record<string, string>) => Promise<{ bytes: number; ms: number }>;

/** One timed stream and the CPU the tunnel's two processes used meanwhile. */
export interface TunnelTimed {
  bytes: number;
  ms: number;
  cpuMs: number;
}

/** Who records a round's stream. */
export type RecordedBy = 'both' | 'gateway' | 'proxy';

/** The recorded servers (added here) and the unrecorded one (the bench config's own, ./tunnel.ts), all `{source}/sse`. */
const RECORDED: Readonly<Record<RecordedBy, string>> = { both: 'bench-record', gateway: 'bench-record-gateway', proxy: 'bench-record-proxy' };
const PLAIN = 'bench-sse';
/** How long a recording's file must stay the same size to count as caught up; how often it is looked at. */
const SETTLED_MS = 300;
const POLL_MS = 50;

/** Sizes of `files` (0 for one not there yet). */
async function sizes(files: readonly string[]): Promise<number[]> {
  return Promise.all(files.map((f) => stat(f).then((s) => s.size, () => 0)));
}

/** The last line of a recording: its footer. */
async function footerOf(file: string): Promise<FooterRecord> {
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as FooterRecord;
}

export class TunnelRounds {
  private constructor(
    private readonly procs: Procs,
    private readonly tunnel: TunnelTarget,
    private readonly dests: readonly ThrottledFile[],
    private readonly client: StreamClient,
    private readonly bytes: number,
  ) {}

  /**
   * Starts the tunnel in front of `source` (an SSE source serving `/sse?n=BYTES`) and the two
   * throttled destinations of its recordings (gateway, proxy). `nodeArgs`: for the gateway and proxy
   * processes (e.g. `--cpu-prof`, to profile recorded against unrecorded streams).
   */
  static async open(o: {
    dir: string;
    source: string;
    rate: number;
    read: number;
    client: StreamClient;
    bytes: number;
    nodeArgs?: readonly string[];
  }): Promise<TunnelRounds> {
    const procs = new Procs();
    const dests: ThrottledFile[] = [];
    try {
      for (const side of ['gateway', 'proxy']) dests.push(await throttledFile(join(o.dir, `${side}.fifo`), join(o.dir, `${side}.jsonl`), o.rate, o.read));
      const dir = join(o.dir, 'tunnel');
      await mkdir(join(dir, 'log'), { recursive: true });
      const tunnel = await startTunnel({
        procs,
        upstreamOrigin: o.source,
        dir,
        servers: Object.fromEntries(Object.values(RECORDED).map((name) => [name, `${o.source}/sse`])),
        record: {
          gateway: dests[0]!.path,
          proxy: dests[1]!.path,
          servers: [RECORDED.both, RECORDED.gateway],
          proxyServers: [RECORDED.both, RECORDED.proxy],
        },
        ...(o.nodeArgs === undefined ? {} : { nodeArgs: o.nodeArgs }),
      });
      return new TunnelRounds(procs, tunnel, dests, o.client, o.bytes);
    } catch (err) {
      for (const d of dests) d.kill();
      await procs.stopAll();
      throw err;
    }
  }

  /** One stream of the server neither side records. */
  plain(): Promise<TunnelTimed> {
    return this.timed(PLAIN);
  }

  /** One stream that `by` records, its destinations throttled; then they catch up. */
  async recorded(by: RecordedBy = 'both'): Promise<TunnelTimed> {
    await Promise.all(this.dests.map((d) => d.throttle()));
    const r = await this.timed(RECORDED[by]);
    for (const d of this.dests) d.unthrottle();
    await this.caughtUp();
    return r;
  }

  /** Stops the tunnel (its recorders write their footers) and returns the two footers. */
  async close(): Promise<{ gateway: FooterRecord; proxy: FooterRecord }> {
    try {
      for (const d of this.dests) d.unthrottle();
      await this.tunnel.close();
      await Promise.all(this.dests.map((d) => d.done));
      const [gateway, proxy] = await Promise.all(this.dests.map((d) => footerOf(d.out)));
      return { gateway: gateway!, proxy: proxy! };
    } finally {
      for (const d of this.dests) d.kill();
      await this.procs.stopAll();
    }
  }

  private async timed(server: string): Promise<TunnelTimed> {
    const pids = Object.values(this.tunnel.pids()).flat();
    const cpu0 = cpuSeconds(pids);
    const r = await this.client(`${this.tunnel.origin}/mcp/${server}?n=${this.bytes}`, { ...this.tunnel.headers, accept: 'text/event-stream' });
    return { ...r, cpuMs: (cpuSeconds(pids) - cpu0) * 1000 };
  }

  /** Resolves once neither recording's file has grown for {@link SETTLED_MS}. */
  private async caughtUp(): Promise<void> {
    const files = this.dests.map((d) => d.out);
    let last = await sizes(files);
    let since = performance.now();
    while (performance.now() - since < SETTLED_MS) {
      await delay(POLL_MS);
      const now = await sizes(files);
      if (now.some((n, i) => n !== last[i])) {
        last = now;
        since = performance.now();
      }
    }
  }
}
