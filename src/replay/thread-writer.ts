import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { QueueItem } from './encoder';
import type { FooterCounters, RecordingWriter, WriterInit } from './line-writer';
import { ByteRing } from './ring';
import type { WorkerReply, WorkerRequest } from './writer-worker';

const WORKER_FILE = join(__dirname, 'writer-worker.js');

/** True when the compiled worker script exists (built code; under ts-jest/swc the writer runs inline). */
export function threadWriterAvailable(): boolean {
  return existsSync(WORKER_FILE);
}

/**
 * A {@link RecordingWriter} in a worker thread. Chunk bytes are copied into a shared {@link ByteRing}
 * (the byte bound) and items carry only their slice; `write` takes the items and returns. The thread
 * holds them raw and encodes them at the destination's pace; until it reports them written (one
 * `progress` message per batch, which also frees their ring space) they count in {@link pending}.
 * One `write` message is in flight at a time: what is taken meanwhile goes in the next, posted when
 * the thread reports the last one written (each message wakes the thread, and each of its replies
 * this one; with a slow destination that is a few messages per stream instead of one per turn).
 */
export class ThreadWriter implements RecordingWriter {
  private readonly waiting: Array<(r: { ok: boolean; error?: string }) => void> = [];
  private written = { events: 0, bytes: 0 };
  private readonly taken = { events: 0, bytes: 0 };
  private done = { events: 0, bytes: 0 };
  /** `taken` − `done`, kept up to date as both change (the taps read it on every chunk). */
  private readonly held = { events: 0, bytes: 0 };
  private failure: string | undefined;
  /** Items taken and not posted yet (one write message is in flight: see the class comment). */
  private unsent: QueueItem[] = [];
  private unsentCounters: FooterCounters | undefined;
  /** `taken.events` when the write message in flight was posted; undefined when none is. */
  private inFlightUpTo: number | undefined;

  private constructor(
    private readonly worker: Worker,
    readonly ring: ByteRing,
  ) {
    worker.on('message', (r: WorkerReply) => this.onMessage(r));
    // A dead worker fails whatever waits; the recorder then stops recording (traffic is unaffected).
    const fail = (error: string): void => {
      this.failed(error);
      for (const w of this.waiting.splice(0)) w({ ok: false, error });
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(`recording writer thread exited (${code})`));
  }

  /** Starts the thread and opens the recording there; `ringBytes` is the byte bound. Rejects with the I/O error. */
  static async open(init: WriterInit, ringBytes: number): Promise<ThreadWriter> {
    const w = new ThreadWriter(new Worker(WORKER_FILE), new ByteRing(ringBytes));
    try {
      await w.call({ op: 'open', init, ring: w.ring.buffer });
    } catch (err) {
      await w.worker.terminate();
      throw err;
    }
    return w;
  }

  write(items: QueueItem[], counters: FooterCounters): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(new Error(this.failure));
    this.taken.events += items.length;
    for (const it of items) this.taken.bytes += it.size ?? 0;
    this.updateHeld();
    for (const it of items) this.unsent.push(it);
    this.unsentCounters = counters;
    if (this.inFlightUpTo === undefined) this.postUnsent();
    return Promise.resolve();
  }

  /** Posts what was taken since the last post, as one write message. */
  private postUnsent(): void {
    if (this.unsent.length === 0 || this.unsentCounters === undefined) return;
    const msg: WorkerRequest = { op: 'write', items: this.unsent, counters: this.unsentCounters };
    this.unsent = [];
    this.inFlightUpTo = this.taken.events;
    this.worker.postMessage(msg);
  }

  pending(): Readonly<{ events: number; bytes: number }> {
    return this.held;
  }

  private updateHeld(): void {
    this.held.events = this.taken.events - this.done.events;
    this.held.bytes = this.taken.bytes - this.done.bytes;
  }

  flush(): Promise<void> {
    this.postUnsent();
    return this.call({ op: 'flush' });
  }

  async close(counters: FooterCounters): Promise<void> {
    this.postUnsent();
    try {
      await this.call({ op: 'close', counters });
    } finally {
      await this.worker.terminate();
    }
  }

  counts(): { events: number; bytes: number } {
    return this.written;
  }

  private onMessage(r: WorkerReply): void {
    if (r.type === 'progress') {
      this.done = r.done;
      this.updateHeld();
      this.written = r.written;
      this.ring.release(r.released);
      if (this.inFlightUpTo !== undefined && this.done.events >= this.inFlightUpTo) {
        this.inFlightUpTo = undefined;
        if (this.failure === undefined) this.postUnsent();
      }
    } else if (r.type === 'failed') this.failed(r.error);
    else this.waiting.shift()?.(r);
  }

  /** What the thread held is lost: it no longer counts against the bound; further writes reject. */
  private failed(error: string): void {
    this.failure ??= error;
    this.unsent = [];
    this.done = { ...this.taken };
    this.updateHeld();
    this.ring.release(Number.MAX_SAFE_INTEGER);
  }

  private call(msg: WorkerRequest): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push((r) => (r.ok ? resolve() : reject(new Error(r.error))));
      this.worker.postMessage(msg);
    });
  }
}
