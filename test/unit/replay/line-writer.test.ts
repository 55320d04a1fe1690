import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LineEncoder, type QueueItem } from '../../../src/replay/encoder';
import { LineWriter } from '../../../src/replay/line-writer';
import { parseLines } from '../../../src/replay';
import { Redactor } from '../../../src/replay/redact';
import { tempDirEach } from '../../helpers/temp-dir';

/** A response exchange: head, SSE chunks of `events` events each `size` characters of (multi-byte) text, end. */
function sseItems(x: string, chunks: number, events: number, size: number): QueueItem[] {
  const meta = { x, server: 's', session: null, t: 1 };
  const data = (i: number): string => JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { data: `${i} ${'é€😀x'.repeat(size / 4)}` } });
  const items: QueueItem[] = [{ ...meta, kind: 'response-head', status: 200, headers: [['content-type', 'text/event-stream']] }];
  for (let c = 0; c < chunks; c++) {
    let text = '';
    for (let e = 0; e < events; e++) text += `id: ${c}-${e}\ndata: ${data(e)}\n\n`;
    items.push({ ...meta, kind: 'response-chunk', bytes: Buffer.from(text, 'utf8') });
  }
  items.push({ ...meta, kind: 'end' });
  return items;
}

describe('LineWriter', () => {
  const tmp = tempDirEach('line-writer-');

  it('packs lines into its reused buffer across several file writes and grows it for a line larger than it, byte for byte what the encoder yields', async () => {
    const file = join(tmp.path, 'r.jsonl');
    const init = { file, side: 'test' as const, version: 't', startedAt: new Date(0).toISOString(), maxFileBytes: 1024 ** 3, smallBodyBytes: 256 * 1024, redaction: undefined };
    const w = await LineWriter.open(init);
    // ~1.6 MiB of small lines (more than the 512 KiB buffer, so it is written out and reused mid-batch)
    // and one event of ~700 KiB of text (more than the buffer: it grows for it, then shrinks back).
    const small = sseItems('a', 40, 30, 1000);
    const huge = sseItems('b', 1, 1, 700_000);
    await w.write(small, { t: 0, exchanges: 1, droppedEvents: 0, droppedBytes: 0 });
    await w.write(huge, { t: 0, exchanges: 2, droppedEvents: 0, droppedBytes: 0 });
    await w.write(sseItems('c', 2, 3, 100), { t: 0, exchanges: 3, droppedEvents: 0, droppedBytes: 0 });
    await w.close({ t: 0, exchanges: 3, droppedEvents: 0, droppedBytes: 0 });

    const expected = new LineEncoder(new Redactor(undefined), 256 * 1024);
    const want = [...small, ...huge, ...sseItems('c', 2, 3, 100)].map((it) => expected.encodeText(it)).join('');
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    // header, the encoded lines, footer
    expect(lines.slice(1, -2).join('\n') + '\n').toBe(want);
    const { lines: parsed, truncated } = parseLines(text, file);
    expect(truncated).toBe(false);
    expect(parsed.filter((l) => l.type === 'sse')).toHaveLength(40 * 30 + 1 + 6);
  });
});
