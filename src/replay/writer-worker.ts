/**
 * The recorder's writer thread (docs/replay.md "Overhead"): redaction, SSE parsing, JSON encoding and
 * file writes run here, off the traffic's thread, at the destination's pace ({@link PacedWriter}).
 * Chunk bytes come through the shared ring (`open` hands it over); items carry only their slice.
 * Messages in: `open` (WriterInit, ring), `write` (items and counters; not answered), `flush`, `close`
 * (counters). Out: `reply` for open/flush/close, in order; `progress` after each batch written;
 * `failed` when a write failed (the thread then discards what it holds).
 */
import { parentPort } from 'node:worker_threads';
import type { QueueItem } from './encoder';
import { LineWriter, type FooterCounters, type WriterInit } from './line-writer';
import { PacedWriter, type PacedProgress } from './paced-writer';

/** A message to the writer thread. */
export type WorkerRequest =
  | { op: 'open'; init: WriterInit; ring: SharedArrayBuffer }
  | { op: 'write'; items: QueueItem[]; counters: FooterCounters }
  | { op: 'flush' }
  | { op: 'close'; counters: FooterCounters };

/** A message from the writer thread. */
export type WorkerReply =
  | { type: 'reply'; ok: true }
  | { type: 'reply'; ok: false; error: string }
  | ({ type: 'progress' } & PacedProgress)
  | { type: 'failed'; error: string };

const port = parentPort;
if (port !== null) {
  const post = (m: WorkerReply): void => port.postMessage(m);
  let paced: PacedWriter | undefined;
  let chain = Promise.resolve();
  port.on('message', (req: WorkerRequest) => {
    // Writes are taken at once (in message order), so a flush or close queued behind them sees them.
    if (req.op === 'write') return void paced?.take(req.items, req.counters);
    chain = chain.then(async () => {
      try {
        if (req.op === 'open') {
          const writer = await LineWriter.open(req.init);
          paced = new PacedWriter(
            writer,
            Buffer.from(req.ring),
            (p) => post({ type: 'progress', ...p }),
            (err) => post({ type: 'failed', error: err.message }),
          );
        } else if (req.op === 'flush') await paced?.idle();
        else await paced?.close(req.counters);
        post({ type: 'reply', ok: true });
      } catch (err) {
        post({ type: 'reply', ok: false, error: (err as Error).message ?? String(err) });
      }
    });
  });
}
