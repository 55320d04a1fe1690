import { performance } from 'node:perf_hooks';
import type { Logger } from '../log';
import { F } from '../log';
import { describeError } from '../errors';
import { pinsMore } from '../chunk-memory';
import type { RecorderInfo } from './format';
import { toPairs, type TapHeaders } from './tap-headers';
import type { RedactionOptions } from './redact';
import type { ItemBody, QueueItem } from './encoder';
import { LineWriter, type FooterCounters, type RecordingWriter, type WriterInit } from './line-writer';
import { ThreadWriter, threadWriterAvailable } from './thread-writer';
import { batchLength, PACED_BATCH_BYTES } from './paced-writer';

export { toPairs, type TapHeaders } from './tap-headers';

/** Which exchange a tap records. */
export interface ExchangeMeta {
  /** The tunnel's request id (`rid`). */
  id: string;
  server: string;
  /** `Mcp-Session-Id` of the request; taken from the response head when absent (initialize). */
  session?: string | null;
}

/**
 * The recorder's view of one HTTP exchange. Every method puts what it needs into a bounded queue
 * and returns at once: it never blocks, never throws, never buffers a stream. Call it AFTER the bytes
 * were forwarded. A chunk may be kept by reference (D71): never write to it afterwards. When the queue is full the event is dropped and counted (footer, {@link Recorder.stats}).
 */
export interface ExchangeTap {
  requestHead(head: { method: string; path: string; headers: TapHeaders }): void;
  requestChunk(chunk: Uint8Array): void;
  responseHead(head: { status: number; headers: TapHeaders }): void;
  /** One already-parsed SSE event (callers that parse SSE themselves; else use responseChunk). */
  sseEvent(ev: { id?: string; event?: string; data: string; retry?: number }): void;
  /** Response bytes; parsed as SSE by the recorder (off the traffic path) when the head said so. */
  responseChunk(chunk: Uint8Array): void;
  end(): void;
  reset(reason: string): void;
}

export interface RecorderOptions {
  file: string;
  side: RecorderInfo['side'];
  /** Record only these servers; all when absent (the gateway's `record.servers`). */
  servers?: readonly string[];
  redaction?: RedactionOptions;
  /** Size cap of one file before rotation. Default 1 GiB. */
  maxFileBytes?: number;
  /** Bytes the queue may hold before events are dropped. Default 16 MiB. */
  queueLimitBytes?: number;
  /** Events the queue may hold before events are dropped. Default 65 536. */
  queueLimitEvents?: number;
  /** Bodies up to this size are written as one `whole` record. Default 256 KiB. */
  smallBodyBytes?: number;
  logger?: Logger;
  /** Monotonic ms clock (tests). Default `performance.now`. */
  now?: () => number;
  /**
   * Encode and write in a worker thread (default: when the compiled worker script exists, i.e. in
   * built code) instead of on the traffic's thread, on later event-loop turns.
   */
  thread?: boolean;
}

/** Counters, e.g. for a metric: `droppedEvents` grows when the recorder falls behind. */
export interface RecorderStats {
  exchanges: number;
  events: number;
  bytes: number;
  queuedEvents: number;
  queuedBytes: number;
  droppedEvents: number;
  droppedBytes: number;
}

const NOOP_TAP: ExchangeTap = {
  requestHead: () => undefined,
  requestChunk: () => undefined,
  responseHead: () => undefined,
  sseEvent: () => undefined,
  responseChunk: () => undefined,
  end: () => undefined,
  reset: () => undefined,
};

const VERSION = '0.1.0';
/** `record.queueBytes`' default (docs/replay.md "Overhead": 16 MiB cost +18.7 % on the bench, 2 MiB +3.0 %). */
export const DEFAULT_QUEUE_BYTES = 2 * 1024 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * How the inline writer keeps a tap's chunk (docs/replay.md "Overhead", D71): by reference,
 * charged to the byte bound at the size of the memory it keeps alive (its parent ArrayBuffer). The
 * taps hand over chunks nobody writes to afterwards: socket reads, Node's HTTP body chunks, undici body
 * chunks, mux payloads and the gateway's rewritten bodies are all fresh memory per read or per write
 * (the list and its reading are in the docs). Copied instead: a chunk on shared memory (another thread
 * may write it), and a small slice of a much larger parent (pinning the parent would cost more of the
 * bound than copying the slice costs CPU).
 */
export function keptChunk(c: Uint8Array): { bytes: Buffer; size: number } {
  const parent = c.buffer.byteLength;
  if (c.buffer instanceof SharedArrayBuffer || pinsMore(c)) return { bytes: Buffer.from(c), size: c.byteLength };
  return { bytes: Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength), size: parent };
}

/**
 * Records wire events to a JSON Lines file (docs/replay.md). Taps enqueue; one writer loop redacts,
 * parses SSE, encodes and appends whole lines. The writer never applies backpressure to traffic.
 */
export class Recorder {
  private readonly queue: QueueItem[] = [];
  /** Bytes of every item taken and not yet written by the inline writer (or handed to the thread). */
  private queuedBytes = 0;
  /** Items of the batch being written (inline) or handed over. */
  private inflightEvents = 0;
  private readonly counters = { exchanges: 0, droppedEvents: 0, droppedBytes: 0 };
  private pendingDrop = { events: 0, bytes: 0 };
  private scheduled = false;
  private pumping: Promise<void> | undefined;
  private closed = false;
  private failed = false;
  private readonly start: number;
  /** ms since the recorder opened. */
  private readonly now: () => number;
  private readonly servers: Set<string> | undefined;
  private readonly lossy = new Set<string>();
  /** The exchange last marked lossy: a run of drops on one stream adds it to {@link lossy} once. */
  private lastLossy: string | undefined;
  /** The queue's bounds (`queueLimitBytes`, `queueLimitEvents`). */
  private readonly lim: { bytes: number; events: number };

  private constructor(
    private readonly opts: RecorderOptions,
    private readonly writer: RecordingWriter,
    now: () => number,
  ) {
    this.start = now();
    this.lim = { bytes: opts.queueLimitBytes ?? DEFAULT_QUEUE_BYTES, events: opts.queueLimitEvents ?? 65_536 };
    this.now = () => now() - this.start;
    this.servers = opts.servers === undefined ? undefined : new Set(opts.servers);
  }

  /** Opens the file (appending) and writes the header. Rejects with the I/O error. */
  static async open(opts: RecorderOptions): Promise<Recorder> {
    const now = opts.now ?? (() => performance.now());
    const init: WriterInit = {
      file: opts.file,
      side: opts.side,
      version: VERSION,
      startedAt: new Date().toISOString(),
      maxFileBytes: opts.maxFileBytes ?? 1024 ** 3,
      smallBodyBytes: opts.smallBodyBytes ?? 256 * 1024,
      redaction: opts.redaction,
    };
    const limit = opts.queueLimitBytes ?? DEFAULT_QUEUE_BYTES;
    const writer = (opts.thread ?? threadWriterAvailable()) ? await ThreadWriter.open(init, limit) : await LineWriter.open(init);
    return new Recorder(opts, writer, now);
  }

  /**
   * Whether an exchange of `server` would be recorded now: the taps ask first, so an exchange of a
   * server that is not recorded pays no tap and no observers on its streams.
   */
  records(server: string): boolean {
    return !this.closed && (this.servers === undefined || this.servers.has(server));
  }

  /** A tap for one exchange; a no-op tap when the server is not recorded or the recorder is closed. */
  exchange(meta: ExchangeMeta): ExchangeTap {
    if (!this.records(meta.server)) return NOOP_TAP;
    this.counters.exchanges += 1;
    const m = { x: meta.id, server: meta.server, session: meta.session ?? null };
    const push = (item: ItemBody, size: number): void => this.enqueue({ ...m, t: this.now(), ...item }, size);
    // Chunks are checked against the bound before they are kept or copied (`chunk`), then taken as they are.
    const take = (item: ItemBody, size: number): void => this.accept({ ...m, t: this.now(), ...item }, size);
    return {
      requestHead: (h) => push({ kind: 'request-head', method: h.method, path: h.path, headers: toPairs(h.headers) }, 256),
      requestChunk: (c) => this.chunk('request-chunk', c, m.x, take),
      responseHead: (h) => push({ kind: 'response-head', status: h.status, headers: toPairs(h.headers) }, 256),
      sseEvent: (e) => push({ kind: 'sse-event', event: { ...e } }, e.data.length + 64),
      responseChunk: (c) => this.chunk('response-chunk', c, m.x, take),
      end: () => push({ kind: 'end' }, 64),
      reset: (reason) => push({ kind: 'reset', reason }, 64),
    } satisfies ExchangeTap;
  }

  /** Current counters. */
  stats(): RecorderStats {
    const e = this.writer.counts();
    const p = this.writer.pending();
    return {
      exchanges: this.counters.exchanges,
      events: e.events,
      bytes: e.bytes,
      queuedEvents: this.queue.length + this.inflightEvents + p.events,
      queuedBytes: this.queuedBytes + p.bytes,
      droppedEvents: this.counters.droppedEvents,
      droppedBytes: this.counters.droppedBytes,
    };
  }

  /** Stops taking events, writes what is queued, then the footer, and closes the file. Never rejects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.drain();
    try {
      await this.writer.close(this.footerCounters());
    } catch (err) {
      this.opts.logger?.error({ [F.component]: 'recorder', [F.err]: describeError(err) }, 'recording file close failed');
    }
  }

  /** Resolves when everything queued so far is written (tests, and before reading a live file). */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.pumping !== undefined) {
      await (this.pumping ?? this.pump());
    }
    if (!this.failed) await this.writer.flush().catch(() => undefined);
  }

  private footerCounters(): FooterCounters {
    const { exchanges, droppedEvents, droppedBytes } = this.counters;
    return { t: this.now(), exchanges, droppedEvents, droppedBytes };
  }

  /**
   * Whether an item of `size` fits the bound, which covers every accepted, unwritten item: queued here
   * or held by the writer thread. Every item counts against the event bound; `bulk` items (chunks, SSE
   * events) also against the byte bound. Heads, end and reset are small and say where an exchange
   * starts and stops: only the event bound drops them, so a recorder that is behind on bytes still
   * records how each exchange ended.
   */
  private fits(size: number, bulk: boolean): boolean {
    if (this.failed || this.closed) return false;
    const p = this.writer.pending();
    return this.queue.length + this.inflightEvents + p.events < this.lim.events && (!bulk || this.queuedBytes + p.bytes + size <= this.lim.bytes);
  }

  /** Checked before copying a chunk, so a recorder that is behind costs the traffic no copy. */
  private hasRoom(size: number, x: string): boolean {
    if (this.fits(size, true)) return true;
    this.dropped(size, x);
    return false;
  }

  /**
   * Takes an accepted chunk. Inline writer: by reference, no copy (see {@link keptChunk}). Thread
   * writer: copied into its ring (the thread cannot see the caller's memory).
   */
  private chunk(kind: 'request-chunk' | 'response-chunk', c: Uint8Array, x: string, take: (item: ItemBody, size: number) => void): void {
    const ring = this.writer.ring;
    if (ring === undefined) {
      const kept = keptChunk(c);
      if (this.hasRoom(kept.size, x)) take({ kind, bytes: kept.bytes }, kept.size);
      return;
    }
    if (!this.hasRoom(c.byteLength, x)) return;
    const slice = ring.put(c);
    if (slice === undefined) return this.dropped(c.byteLength, x);
    take({ kind, bytes: EMPTY, ring: slice }, c.byteLength);
  }

  private dropped(size: number, x: string): void {
    this.counters.droppedEvents += 1;
    this.counters.droppedBytes += size;
    this.pendingDrop.events += 1;
    this.pendingDrop.bytes += size;
    if (this.lastLossy !== x) {
      this.lossy.add(x);
      this.lastLossy = x;
    }
  }

  private enqueue(item: QueueItem, size: number): void {
    if (this.closed) return;
    if (!this.fits(size, item.kind === 'request-chunk' || item.kind === 'response-chunk' || item.kind === 'sse-event')) {
      this.dropped(size, item.x);
      return;
    }
    this.accept(item, size);
  }

  /** Queues an item that fits the bound (checked by the caller) and schedules the writer. */
  private accept(item: QueueItem, size: number): void {
    if (this.pendingDrop.events > 0) {
      this.queue.push({ kind: 'drop', x: item.x, server: '', session: null, t: item.t, ...this.pendingDrop });
      this.pendingDrop = { events: 0, bytes: 0 };
    }
    if (this.lossy.delete(item.x)) item.lossy = true;
    if (this.lastLossy === item.x) this.lastLossy = undefined;
    item.size = size;
    this.queue.push(item);
    this.queuedBytes += size;
    if (!this.scheduled) {
      this.scheduled = true;
      // The writer runs on a later turn: the tap returns before any encoding or I/O.
      setImmediate(() => {
        this.scheduled = false;
        if (this.pumping === undefined) void this.pump();
      });
    }
  }

  private pump(): Promise<void> {
    // `finally` runs on a later microtask, after `pumping` is set, even when nothing was queued.
    const p: Promise<void> = this.writeQueued().finally(() => {
      if (this.pumping === p) this.pumping = undefined;
    });
    this.pumping = p;
    return p;
  }

  private async writeQueued(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // ~256 KiB, the next batch once this one is in the file: a slow destination paces the encoding.
        const batch = this.queue.splice(0, batchLength(this.queue, PACED_BATCH_BYTES));
        this.inflightEvents = batch.length;
        try {
          await this.writer.write(batch, this.footerCounters());
        } finally {
          // Counted until written (inline) or handed over (thread: then in `writer.pending()`).
          for (const it of batch) this.queuedBytes -= it.size ?? 0;
          this.inflightEvents = 0;
        }
      }
    } catch (err) {
      this.failed = true;
      this.opts.logger?.error(
        { [F.component]: 'recorder', [F.code]: 'TUNNEL_REPLAY_IO', [F.err]: describeError(err) },
        'recording stopped: write failed; further events are dropped and counted',
      );
    }
  }
}
