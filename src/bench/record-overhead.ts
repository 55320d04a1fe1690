#!/usr/bin/env node
/**
 * `npm run bench:record`: how much recording slows a big SSE stream when the recording file sits on
 * a throttled destination (issue 12 done-when: at most 5 %). A source process streams SSE and a
 * client process reads the stream to its end and times it, through two hops in turn:
 *
 * - the tunnel (./record-tunnel.ts): the gateway and proxy CLI processes as deployed; each round
 *   streams unrecorded, recorded by the gateway, by the proxy, and by both. The one-recorder figures
 *   are the product's, the ones the limit applies to (exit 1); both sides recording the same stream
 *   (two recorders) is printed for reference.
 * - an HTTP hop in this process with or without a `Recorder` tap: the recorder alone, on a hop that
 *   does nothing else, so its cost is a larger share; printed against the same limit for reference.
 *
 * Each recording file is a FIFO drained at a fixed rate by a child process, so the recorder falls
 * behind at once and must drop (and count) instead of slowing traffic. Rounds run the variants back
 * to back; each figure is the median of the per-round ratios to the unrecorded stream.
 *
 * Options (env): RECORD_BENCH_HOP (`both`, `tunnel` or `http`), RECORD_BENCH_TUNNEL_ROUNDS (default 21),
 * RECORD_BENCH_MB (stream size, default 200), RECORD_BENCH_ROUNDS (HTTP hop, default 61),
 * RECORD_BENCH_RATE_KB (destination drain rate in KiB/s, default 1024), RECORD_BENCH_READ_KB (the most it
 * takes per read, default 64), RECORD_BENCH_MAX_PCT
 * (exit 1 above it, default 5), RECORD_BENCH_QUEUE_MB (the recorder's queue bound; default its own), RECORD_BENCH_THREAD (0: the inline writer, 1: the worker thread; default the recorder's own). Modes used internally: `--source`, `--client` (streams each URL it reads on stdin).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface, type Interface } from 'node:readline';
import { Recorder, type FooterRecord } from '../replay';
import { DEFAULT_QUEUE_BYTES } from '../replay/recorder';
import { timeStream } from './load';
import { startHop, startSseSource, throttledFile, type ThrottledFile } from './record-hop';
import { TunnelRounds, type RecordedBy, type TunnelTimed } from './record-tunnel';

const MB = Number(process.env['RECORD_BENCH_MB'] ?? 200);
const ROUNDS = Number(process.env['RECORD_BENCH_ROUNDS'] ?? 61);
const RATE = Number(process.env['RECORD_BENCH_RATE_KB'] ?? 1024) * 1024;
/** The most the destination takes per read (KiB). */
const READ = Number(process.env['RECORD_BENCH_READ_KB'] ?? 64) * 1024;
const MAX_PCT = Number(process.env['RECORD_BENCH_MAX_PCT'] ?? 5);
/** The recorder's queue bound (MiB); unset: the recorder's default (16 MiB). */
const QUEUE_MB = process.env['RECORD_BENCH_QUEUE_MB'];
/** Which writer: '0' inline, '1' the worker thread; unset: the recorder's default. */
const THREAD = process.env['RECORD_BENCH_THREAD'];
/** Which hops: `http` (the hop in this process), `tunnel` (the real gateway and proxy), `both` (default). */
const HOP = process.env['RECORD_BENCH_HOP'] ?? 'both';
/** Rounds through the tunnel (each ~10× the HTTP hop's time). */
const TUNNEL_ROUNDS = Number(process.env['RECORD_BENCH_TUNNEL_ROUNDS'] ?? 21);

/**
 * Starts this script in `mode` and resolves with the first stdout line matching `ready`, and the
 * reader of the lines after it.
 */
function child(args: string[], ready: RegExp): Promise<{ proc: ChildProcess; line: string; lines: Interface }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [__filename, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: proc.stdout });
    const on = (line: string): void => {
      if (!ready.test(line)) return;
      lines.off('line', on);
      resolve({ proc, line, lines });
    };
    lines.on('line', on);
    proc.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${String(code)} before it was ready`)));
  });
}

/**
 * The client: one process for every round, started before the first. It reads one URL per line on
 * stdin, reads that stream to its end and prints `RESULT {bytes, ms}`. Starting a client per round
 * would fork this (the hop's) process during the timed rounds, and after a fork every page the hop
 * writes first takes a copy-on-write fault: ~600 faults (~10 ms on this VM) per round on the
 * recorder's ring alone, which a deployed gateway or proxy (they never fork) does not pay.
 */
class Client {
  /** The client's stdout after `READY`, line by line; it ends when the client exits. */
  private readonly out: AsyncIterator<string>;

  private constructor(
    private readonly proc: ChildProcess,
    lines: Interface,
  ) {
    this.out = lines[Symbol.asyncIterator]();
  }

  static async start(): Promise<Client> {
    const { proc, lines } = await child(['--client'], /^READY$/);
    return new Client(proc, lines);
  }

  /**
   * One stream; `busyMs` is how long this (the hop's, the traffic's) thread was busy meanwhile
   * (event-loop utilisation), `cpuMs` the CPU time this process (all its threads) used meanwhile.
   */
  async run(url: string, headers: Record<string, string> = {}): Promise<{ bytes: number; ms: number; busyMs: number; cpuMs: number }> {
    const elu = performance.eventLoopUtilization();
    const cpu = process.cpuUsage();
    this.proc.stdin!.write(`${JSON.stringify({ url, headers })}\n`);
    let line: IteratorResult<string>;
    do line = await this.out.next();
    while (line.done !== true && !line.value.startsWith('RESULT '));
    if (line.done === true) throw new Error(`the client exited with ${String(this.proc.exitCode)}`);
    const busyMs = performance.eventLoopUtilization(elu).active;
    const used = process.cpuUsage(cpu);
    return { ...(JSON.parse(line.value.slice('RESULT '.length)) as { bytes: number; ms: number }), busyMs, cpuMs: (used.user + used.system) / 1000 };
  }

  stop(): void {
    this.proc.stdin!.end();
  }
}

/** The client's side: streams each `{url, headers}` line read from stdin, one at a time. */
async function clientLoop(): Promise<number> {
  console.log('READY');
  for await (const line of createInterface({ input: process.stdin })) {
    const { url, headers } = JSON.parse(line) as { url: string; headers: Record<string, string> };
    console.log(`RESULT ${JSON.stringify(await timeStream(url, headers))}`);
  }
  return 0;
}

interface WithRecorder {
  ms: number;
  busyMs: number;
  cpuMs: number;
  bytes: number;
  /** Events and bytes the recorder dropped during this stream, and the bytes it wrote meanwhile. */
  dropped: number;
  recordedBytes: number;
}

/**
 * One recorder for every recorded round, as in a deployed gateway or proxy (a recorder lives as long
 * as its process: a fresh one per stream would time its writer thread's start and cold code, D73).
 * Each round throttles the destination, streams, then lets the destination catch up (unthrottled)
 * so the next round starts with an empty queue, as after any quiet spell.
 */
class RecordedRounds {
  private constructor(
    private readonly dest: ThrottledFile,
    private readonly recorder: Recorder,
  ) {}

  static async open(dir: string): Promise<RecordedRounds> {
    const dest = await throttledFile(join(dir, 'rec.fifo'), join(dir, 'rec.jsonl'), RATE, READ);
    try {
      const recorder = await Recorder.open({
        file: dest.path,
        side: 'test',
        ...(QUEUE_MB === undefined ? {} : { queueLimitBytes: Number(QUEUE_MB) * 1024 * 1024 }),
        // RECORD_BENCH_THREAD=0: the inline writer (zero-copy, paced on the traffic's thread); 1: the
        // worker thread (a copy into its ring); unset: the recorder's default.
        ...(THREAD === undefined ? {} : { thread: THREAD === '1' }),
      });
      return new RecordedRounds(dest, recorder);
    } catch (err) {
      dest.kill();
      throw err;
    }
  }

  /** One stream through the hop with the recorder writing to the throttled FIFO. */
  async round(source: string, client: Client): Promise<WithRecorder> {
    await this.dest.throttle();
    const before = this.recorder.stats();
    const hop = await startHop(source, this.recorder);
    const r = await client.run(`${hop.url}/sse?n=${MB * 1024 * 1024}`);
    await hop.close();
    const after = this.recorder.stats();
    this.dest.unthrottle();
    await this.recorder.drain();
    const written = this.recorder.stats();
    return { ...r, dropped: after.droppedEvents - before.droppedEvents, recordedBytes: written.bytes - before.bytes };
  }

  /** Closes the recording and returns its footer (the file's last line). */
  async close(): Promise<FooterRecord> {
    try {
      this.dest.unthrottle();
      await this.recorder.close();
      await this.dest.done;
      const lines = (await readFile(this.dest.out, 'utf8')).trimEnd().split('\n');
      return JSON.parse(lines[lines.length - 1]!) as FooterRecord;
    } finally {
      this.dest.kill();
    }
  }
}

async function plain(source: string, client: Client): Promise<{ ms: number; bytes: number; busyMs: number; cpuMs: number }> {
  const hop = await startHop(source, undefined);
  try {
    return await client.run(`${hop.url}/sse?n=${MB * 1024 * 1024}`);
  } finally {
    await hop.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The per-round ratios' summary: the median (the figure), the quartiles and extremes, as % slower. */
function ratioSummary(ratios: number[]): { pct: number; text: string } {
  const sorted = [...ratios].sort((x, y) => x - y);
  const q = (p: number): string => ((sorted[Math.round(p * (sorted.length - 1))]! - 1) * 100).toFixed(1);
  return { pct: (median(ratios) - 1) * 100, text: `quartiles ${q(0.25)} / ${q(0.5)} / ${q(0.75)} %, min ${q(0)}, max ${q(1)} %` };
}

const mbps = (ms: number): string => ((MB / ms) * 1000).toFixed(0);

/** The HTTP hop in this process, with and without a recorder; false when a stream came short. */
async function hopRounds(dir: string, source: string, client: Client): Promise<boolean> {
  const without: number[] = [];
  const busyWithout: number[] = [];
  const cpuWithout: number[] = [];
  const withRec: WithRecorder[] = [];
  const rec = await RecordedRounds.open(dir);
  const plainRun = async (): Promise<void> => {
    const r = await plain(source, client);
    without.push(r.ms);
    busyWithout.push(r.busyMs);
    cpuWithout.push(r.cpuMs);
  };
  await plain(source, client); // warm-up: JIT, sockets
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which variant goes first, so drift on a shared machine hits both alike.
    if (i % 2 === 0) {
      await plainRun();
      withRec.push(await rec.round(source, client));
    } else {
      withRec.push(await rec.round(source, client));
      await plainRun();
    }
  }
  const footer = await rec.close();
  const a = median(without);
  const b = median(withRec.map((r) => r.ms));
  // Each round runs both variants back to back, so the pair shares the machine's state of the
  // moment; the figure is the median of the per-round ratios (a paired comparison), which drift on
  // a shared machine moves far less than a ratio of the two medians (also printed).
  const { pct, text } = ratioSummary(withRec.map((r, i) => r.ms / without[i]!));
  const pctOfMedians = ((b - a) / a) * 100;
  console.log(`\nrecording overhead — ${MB} MB SSE stream through one HTTP hop, destination drained at ${RATE / 1024} KiB/s in reads of at most ${READ / 1024} KiB, queue ${QUEUE_MB ?? DEFAULT_QUEUE_BYTES / 2 ** 20} MiB, writer ${THREAD === undefined ? 'default' : THREAD === '1' ? 'thread' : 'inline'}, ${ROUNDS} rounds, node ${process.version}\n`);
  console.log('| variant | median ms | MB/s | dropped events (min–max) | recorded bytes (min–max) |');
  console.log('|---|---|---|---|---|');
  console.log(`| no recorder | ${a.toFixed(0)} | ${mbps(a)} | | |`);
  const drops = withRec.map((r) => r.dropped);
  const bytes = withRec.map((r) => r.recordedBytes);
  console.log(`| recorder on throttled file | ${b.toFixed(0)} | ${mbps(b)} | ${Math.min(...drops)}–${Math.max(...drops)} | ${Math.min(...bytes)}–${Math.max(...bytes)} |`);
  const busyA = median(busyWithout);
  const busyB = median(withRec.map((r) => r.busyMs));
  console.log(`\ntraffic thread busy (median): ${busyA.toFixed(0)} ms without, ${busyB.toFixed(0)} ms with the recorder (${(((busyB - busyA) / busyA) * 100).toFixed(1)} %)`);
  const cpuA = median(cpuWithout);
  const cpuB = median(withRec.map((r) => r.cpuMs));
  console.log(`hop process CPU, all threads (median): ${cpuA.toFixed(0)} ms without, ${cpuB.toFixed(0)} ms with the recorder (${(((cpuB - cpuA) / cpuA) * 100).toFixed(1)} %); load average ${loadavg()[0]!.toFixed(1)}`);
  console.log(`\nHTTP hop (the recorder alone; for reference): overhead (median of the per-round ratios): ${pct.toFixed(1)} % (${pct <= MAX_PCT ? 'within' : 'over'} ${MAX_PCT} %); ratio of the medians ${pctOfMedians.toFixed(1)} %; per-round ratios: ${text}`);
  console.log(`recording footer: ${footer.counts.events} events, ${footer.counts.bytes} bytes written, ${footer.dropped.events} events dropped (all rounds)`);
  const short = withRec.filter((r) => r.bytes < MB * 1024 * 1024);
  if (short.length > 0) console.log(`FAIL: ${short.length} recorded run(s) delivered fewer bytes than sent`);
  return short.length === 0;
}

const RECORDED_BY: readonly RecordedBy[] = ['gateway', 'proxy', 'both'];
const LABEL: Readonly<Record<RecordedBy, string>> = { gateway: 'recording at the gateway', proxy: 'recording at the proxy', both: 'recording at the gateway and the proxy' };

/**
 * The real tunnel (gateway and proxy processes): each round streams once unrecorded, once recorded by
 * the gateway, once by the proxy and once by both, in an order that rotates by round. True when each
 * one-recorder figure is within the limit (both sides recording the same stream is printed too).
 */
async function tunnelRounds(dir: string, source: string, client: Client): Promise<boolean> {
  const bytes = MB * 1024 * 1024;
  const rounds = await TunnelRounds.open({ dir, source, rate: RATE, read: READ, bytes, client: (url, headers) => client.run(url, headers) });
  const without: TunnelTimed[] = [];
  const withRec: Record<RecordedBy, TunnelTimed[]> = { gateway: [], proxy: [], both: [] };
  const variants: ReadonlyArray<RecordedBy | 'plain'> = ['plain', ...RECORDED_BY];
  let footers: Awaited<ReturnType<TunnelRounds['close']>> | undefined;
  try {
    await rounds.plain(); // warm-up: JIT, upstream connections
    for (const by of RECORDED_BY) await rounds.recorded(by);
    for (let i = 0; i < TUNNEL_ROUNDS; i++) {
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(i + k) % variants.length]!;
        if (v === 'plain') without.push(await rounds.plain());
        else withRec[v].push(await rounds.recorded(v));
      }
    }
  } finally {
    footers = await rounds.close();
  }
  const a = median(without.map((r) => r.ms));
  const cpuA = median(without.map((r) => r.cpuMs));
  console.log(`\nrecording overhead — ${MB} MB SSE stream through the tunnel (one gateway and one proxy process, audit on), a server recorded by the gateway, by the proxy or by both against one neither records, each recording drained at ${RATE / 1024} KiB/s in reads of at most ${READ / 1024} KiB, ${TUNNEL_ROUNDS} rounds of the four\n`);
  console.log('| variant | median ms | MB/s | gateway + proxy CPU ms (median) | overhead (median of the per-round ratios) |');
  console.log('|---|---|---|---|---|');
  console.log(`| not recording | ${a.toFixed(0)} | ${mbps(a)} | ${cpuA.toFixed(0)} | |`);
  const summary = {} as Record<RecordedBy, ReturnType<typeof ratioSummary>>;
  for (const by of RECORDED_BY) {
    const b = median(withRec[by].map((r) => r.ms));
    summary[by] = ratioSummary(withRec[by].map((r, i) => r.ms / without[i]!.ms));
    console.log(`| ${LABEL[by]} | ${b.toFixed(0)} | ${mbps(b)} | ${median(withRec[by].map((r) => r.cpuMs)).toFixed(0)} | ${summary[by].pct.toFixed(1)} % |`);
  }
  console.log(`per round, ms (not recording / gateway / proxy / both): ${without.map((r, i) => [r, ...RECORDED_BY.map((by) => withRec[by][i]!)].map((x) => x.ms.toFixed(0)).join('/')).join(' ')}`);
  for (const [side, f] of Object.entries(footers)) {
    console.log(`${side} recording footer: ${f.counts.events} events, ${f.counts.bytes} bytes written, ${f.dropped.events} events (${f.dropped.bytes} bytes) dropped (all rounds)`);
  }
  const ok = summary.gateway.pct <= MAX_PCT && summary.proxy.pct <= MAX_PCT;
  for (const by of RECORDED_BY) {
    const { pct, text } = summary[by];
    const verdict = by === 'both' ? 'two recorders on one stream; for reference' : pct <= MAX_PCT ? 'PASS' : 'FAIL';
    console.log(`\ntunnel, ${LABEL[by]}: overhead ${pct.toFixed(1)} % (limit ${MAX_PCT} %) — ${verdict}; per-round ratios: ${text}`);
  }
  console.log(`load average ${loadavg()[0]!.toFixed(1)}`);
  const short = [...without, ...RECORDED_BY.flatMap((by) => withRec[by])].filter((r) => r.bytes < bytes);
  if (short.length > 0) console.log(`FAIL: ${short.length} run(s) through the tunnel delivered fewer bytes than sent (${short.map((r) => r.bytes).join(', ')} of ${bytes})`);
  return ok && short.length === 0;
}

async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'record-bench-'));
  const { proc: src, line } = await child(['--source'], /^SOURCE_URL=/);
  const source = line.slice('SOURCE_URL='.length);
  const client = await Client.start();
  try {
    let ok = true;
    if (HOP !== 'tunnel') ok = (await hopRounds(dir, source, client)) && ok;
    if (HOP !== 'http') ok = (await tunnelRounds(dir, source, client)) && ok;
    return ok ? 0 : 1;
  } finally {
    client.stop();
    src.kill();
    await rm(dir, { recursive: true, force: true });
  }
}

async function entry(argv: string[]): Promise<number> {
  if (argv[0] === '--source') {
    const s = await startSseSource();
    console.log(`SOURCE_URL=${s.url}`);
    process.once('SIGTERM', () => void s.close());
    return new Promise<number>(() => undefined); // serves until killed
  }
  if (argv[0] === '--client') return clientLoop();
  return main();
}

entry(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(err);
    process.exitCode = 2;
  },
);
