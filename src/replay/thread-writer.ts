import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { QueueItem } from './encoder';
import type { FooterCounters, RecordingWriter, WriterInit } from './line-writer';

const WORKER_FILE = join(__dirname, 'writer-worker.js');

/** True when the compiled worker script exists (built code; under ts-jest/swc the writer runs inline). */
export function threadWriterAvailable(): boolean {
  return existsSync(WORKER_FILE);
}

type Reply = { ok: true; events: number; bytes: number } | { ok: false; error: string };

/**
 * A {@link RecordingWriter} in a worker thread: the traffic's thread only copies items into a message
 * (one memcpy per batch); encoding and I/O happen in the worker. One request at a time, answered in order.
 */
export class ThreadWriter implements RecordingWriter {
  private readonly waiting: Array<(r: Reply) => void> = [];
  private written = { events: 0, bytes: 0 };

  private constructor(private readonly worker: Worker) {
    worker.on('message', (r: Reply) => {
      if (r.ok) this.written = { events: r.events, bytes: r.bytes };
      this.waiting.shift()?.(r);
    });
    // A dead worker fails whatever waits; the recorder then stops recording (traffic is unaffected).
    const fail = (error: string): void => {
      for (const w of this.waiting.splice(0)) w({ ok: false, error });
    };
    worker.on('error', (err) => fail(err.message));
    worker.on('exit', (code) => fail(`recording writer thread exited (${code})`));
  }

  /** Starts the thread and opens the recording there. Rejects with the I/O error. */
  static async open(init: WriterInit): Promise<ThreadWriter> {
    const w = new ThreadWriter(new Worker(WORKER_FILE));
    try {
      await w.call({ op: 'open', init });
    } catch (err) {
      await w.worker.terminate();
      throw err;
    }
    return w;
  }

  write(items: QueueItem[], counters: FooterCounters): Promise<void> {
    return this.call({ op: 'write', items, counters });
  }

  async close(counters: FooterCounters): Promise<void> {
    try {
      await this.call({ op: 'close', counters });
    } finally {
      await this.worker.terminate();
    }
  }

  counts(): { events: number; bytes: number } {
    return this.written;
  }

  private call(msg: object): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push((r) => (r.ok ? resolve() : reject(new Error(r.error))));
      this.worker.postMessage(msg);
    });
  }
}
