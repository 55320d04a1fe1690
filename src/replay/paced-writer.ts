import type { QueueItem } from './encoder';
import type { FooterCounters, LineWriter } from './line-writer';
import { readSlice } from './ring';

/** What the paced writer reports after each batch it wrote (cumulative). */
export interface PacedProgress {
  /** Items taken and now written, with their queue sizes (the recorder's byte bound). */
  done: { events: number; bytes: number };
  /** Lines and bytes written to the file (the encoder's counts). */
  written: { events: number; bytes: number };
  /** The ring is free up to here (a `RingSlice.end`; 0 when nothing came through it). */
  released: number;
}

/** Bytes of raw items the writer thread encodes in one go (the pace unit: one batch per file write). */
export const PACED_BATCH_BYTES = 256 * 1024;

/**
 * How many queued items to encode in one go: at most 512 and about `maxBytes` (at least one item).
 */
export function batchLength(queue: readonly QueueItem[], maxBytes: number): number {
  let bytes = 0;
  let n = 0;
  while (n < queue.length && n < 512 && (n === 0 || bytes < maxBytes)) bytes += queue[n++]!.size ?? 0;
  return n;
}

/**
 * The writer thread's queue (docs/replay.md "Overhead"): items arrive raw, as the traffic's thread
 * copied them, and are encoded one batch at a time, the next batch only once the previous one is in
 * the file. A slow destination therefore paces the encoding: the writer never encodes what the
 * destination cannot take yet, and what it holds stays raw bytes. After each batch it reports what
 * was written, so the traffic's side can keep its byte bound exact.
 */
export class PacedWriter {
  private readonly queue: QueueItem[] = [];
  private running: Promise<void> | undefined;
  private failure: Error | undefined;
  private counters: FooterCounters = { t: 0, exchanges: 0, droppedEvents: 0, droppedBytes: 0 };
  private readonly done = { events: 0, bytes: 0 };
  private released = 0;

  /** `ring`: a view of the shared ring that items with a `ring` slice point into. */
  constructor(
    private readonly writer: LineWriter,
    private readonly ring: Buffer | undefined,
    private readonly onProgress: (p: PacedProgress) => void,
    private readonly onFailure: (err: Error) => void,
    private readonly batchBytes = PACED_BATCH_BYTES,
  ) {}

  /** Takes items (in order); writing starts on a later turn if it is not running yet. */
  take(items: QueueItem[], counters: FooterCounters): void {
    this.counters = counters;
    if (this.failure !== undefined) return;
    for (const it of items) this.queue.push(it);
    if (this.running === undefined) {
      this.running = this.run().finally(() => {
        this.running = undefined;
      });
    }
  }

  /** Items taken and not yet written. */
  pending(): number {
    return this.queue.length;
  }

  /** Resolves when everything taken so far is written (or writing failed). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** Writes everything taken, then the footer, and closes the file. Rejects on an I/O error. */
  async close(counters: FooterCounters): Promise<void> {
    await this.idle();
    if (this.failure !== undefined) throw this.failure;
    await this.writer.close(counters);
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, batchLength(this.queue, this.batchBytes));
      let end = this.released;
      for (const it of batch) {
        if ((it.kind === 'request-chunk' || it.kind === 'response-chunk') && it.ring !== undefined && this.ring !== undefined) {
          it.bytes = readSlice(this.ring, it.ring);
          end = it.ring.end;
        }
      }
      try {
        await this.writer.write(batch, this.counters);
      } catch (err) {
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.queue.length = 0;
        this.onFailure(this.failure);
        return;
      }
      this.done.events += batch.length;
      for (const it of batch) this.done.bytes += it.size ?? 0;
      this.released = end;
      this.onProgress({ done: { ...this.done }, written: this.writer.counts(), released: end });
    }
  }
}
