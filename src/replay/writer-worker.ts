/**
 * The recorder's writer thread (docs/replay.md "Overhead"): redaction, SSE parsing, JSON encoding and
 * file writes run here, off the traffic's thread. Messages: `open` (WriterInit), `write` (items and
 * counters), `close` (counters); each is answered with `{ ok, events, bytes }` or `{ ok: false, error }`.
 */
import { parentPort } from 'node:worker_threads';
import type { QueueItem } from './encoder';
import { LineWriter, type FooterCounters, type WriterInit } from './line-writer';

type Request = { op: 'open'; init: WriterInit } | { op: 'write'; items: QueueItem[]; counters: FooterCounters } | { op: 'close'; counters: FooterCounters };

/** Buffers arrive as plain Uint8Arrays (structured clone): give the encoder Buffers back. */
function revive(items: QueueItem[]): QueueItem[] {
  for (const it of items) {
    if (it.kind === 'request-chunk' || it.kind === 'response-chunk') it.bytes = Buffer.from(it.bytes.buffer, it.bytes.byteOffset, it.bytes.byteLength);
  }
  return items;
}

let writer: LineWriter | undefined;
const port = parentPort;
if (port !== null) {
  let chain = Promise.resolve();
  port.on('message', (req: Request) => {
    chain = chain.then(async () => {
      try {
        if (req.op === 'open') writer = await LineWriter.open(req.init);
        else if (req.op === 'write') await writer?.write(revive(req.items), req.counters);
        else await writer?.close(req.counters);
        port.postMessage({ ok: true, ...(writer?.counts() ?? { events: 0, bytes: 0 }) });
      } catch (err) {
        port.postMessage({ ok: false, error: (err as Error).message ?? String(err) });
      }
    });
  });
}
