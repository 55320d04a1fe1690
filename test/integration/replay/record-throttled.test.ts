import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timeStream } from '../../../src/bench/load';
import { startHop, startSseSource, throttledFile, type Listening, type ThrottledFile } from '../../../src/bench/record-hop';
import { parseLines, Recorder, type FooterRecord } from '../../../src/replay';

describe('recording onto a throttled destination', () => {
  let dir: string;
  const open: Listening[] = [];
  let dest: ThrottledFile | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'record-throttled-'));
  });
  afterEach(async () => {
    while (open.length > 0) await open.pop()!.close();
    dest?.kill();
    dest = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers the whole stream and the footer counts the records it dropped', async () => {
    const size = 8 * 1024 * 1024;
    dest = await throttledFile(join(dir, 'rec.fifo'), join(dir, 'rec.jsonl'), 64 * 1024);
    const recorder = await Recorder.open({ file: dest.path, side: 'test', queueLimitBytes: 256 * 1024 });
    const source = await startSseSource();
    open.push(source);
    const hop = await startHop(source.url, recorder);
    open.push(hop);

    const got = await timeStream(`${hop.url}/sse?n=${size}`);
    expect(got.bytes).toBeGreaterThanOrEqual(size); // traffic is never dropped for the recorder
    expect(recorder.stats().droppedEvents).toBeGreaterThan(0);

    dest.unthrottle();
    await recorder.close();
    const stats = recorder.stats();
    await dest.done;
    const { lines, truncated } = parseLines(await readFile(dest.out, 'utf8'), dest.out);
    expect(truncated).toBe(false);
    const footer = lines[lines.length - 1] as FooterRecord;
    expect(footer.type).toBe('footer');
    expect(footer.dropped).toEqual({ events: stats.droppedEvents, bytes: stats.droppedBytes });
    const dropLines = lines.filter((l) => l.type === 'drop');
    expect(dropLines.reduce((n, l) => n + (l.type === 'drop' ? l.events : 0), 0)).toBeLessThanOrEqual(footer.dropped.events);
    // A recorder behind on bytes still records how the exchange ended.
    expect(lines.some((l) => l.type === 'end')).toBe(true);
  });
});
