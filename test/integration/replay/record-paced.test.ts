/**
 * The writer thread encodes at the destination's pace (docs/replay.md "Overhead", D66). Built
 * code only (the worker is `dist/replay/writer-worker.js`; `npm run build` first): a child process
 * records through the thread writer onto a throttled FIFO (or a plain file, for kill -9).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { REPO_ROOT, spawnProcess, stopProcessesAfterEach } from '../../helpers/process';
import { parseLines, RECORDING_LINE_SCHEMA, type FooterRecord, type RecordingLine } from '../../../src/replay';

/** Feeds `n` whole SSE events (one chunk each, ~1 KiB) across turns; prints which ids were accepted. */
const PACED = `
const { Recorder } = require(process.argv[1] + '/dist/replay');
const { throttledFile } = require(process.argv[1] + '/dist/bench/record-hop');
(async () => {
  const dest = await throttledFile(process.argv[2] + '/rec.fifo', process.argv[2] + '/rec.jsonl', 32 * 1024);
  const r = await Recorder.open({ file: dest.path, side: 'test', thread: true, queueLimitBytes: 2 * 1024 * 1024 });
  const tap = r.exchange({ id: 'x1', server: 'notes' });
  tap.requestHead({ method: 'GET', path: '/mcp/notes', headers: [] });
  tap.responseHead({ status: 200, headers: [['content-type', 'text/event-stream']] });
  const accepted = [];
  for (let i = 0; i < 4000; i++) {
    const before = r.stats().droppedEvents;
    tap.responseChunk(Buffer.from('id: ' + i + '\\ndata: {"n":' + i + ',"pad":"' + 'x'.repeat(1000) + '"}\\n\\n'));
    if (r.stats().droppedEvents === before) accepted.push(String(i));
    if (i % 64 === 0) await new Promise((res) => setImmediate(res));
  }
  tap.end();
  const writtenDuring = r.stats().events;
  dest.unthrottle();
  await r.close();
  await dest.done;
  console.log(JSON.stringify({ accepted, writtenDuring, stats: r.stats() }));
})();
`;

/** Records a stream to a plain file until killed; prints READY once some of it is on disk. */
const ENDLESS = `
const { Recorder } = require(process.argv[1] + '/dist/replay');
(async () => {
  const r = await Recorder.open({ file: process.argv[2], side: 'test', thread: true });
  const tap = r.exchange({ id: 'x1', server: 'notes' });
  tap.responseHead({ status: 200, headers: [['content-type', 'text/event-stream']] });
  let ready = false;
  for (let i = 0; ; i++) {
    tap.responseChunk(Buffer.from('id: ' + i + '\\ndata: {"n":' + i + ',"pad":"' + 'y'.repeat(3000) + '"}\\n\\n'));
    if (i % 32 === 0) await new Promise((res) => setImmediate(res));
    if (!ready && r.stats().bytes > 2 * 1024 * 1024) console.log('READY'), (ready = true);
  }
})();
`;

describe('recorder writer thread pacing', () => {
  let dir: string;
  stopProcessesAfterEach();
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-paced-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const validate = new Ajv({ strict: false }).compile(RECORDING_LINE_SCHEMA);

  it('encodes little while a slow destination lags, then writes exactly what it accepted, with exact drop counts', async () => {
    const child = spawnProcess(process.execPath, ['-e', PACED, REPO_ROOT, dir]);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    const out = child.jsonLines().at(-1) as { accepted: string[]; writtenDuring: number; stats: { droppedEvents: number; droppedBytes: number } };
    // 2 MiB accepted of 4 MiB; a 32 KiB/s destination took at most one batch meanwhile.
    expect(out.accepted.length).toBeGreaterThan(1500);
    expect(out.accepted.length).toBeLessThan(4000);
    expect(out.writtenDuring).toBeLessThan(out.accepted.length / 4);

    const { lines, truncated } = parseLines<RecordingLine>(await readFile(join(dir, 'rec.jsonl'), 'utf8'), 'rec.jsonl');
    expect(truncated).toBe(false);
    for (const l of lines) expect(validate(l)).toBe(true);
    const ids = lines.flatMap((l) => (l.type === 'sse' && l.id !== undefined ? [l.id] : []));
    expect(ids).toEqual(out.accepted); // everything accepted is on disk, in order, nothing else
    const footer = lines.at(-1) as FooterRecord;
    expect(footer.type).toBe('footer');
    expect(footer.dropped).toEqual({ events: out.stats.droppedEvents, bytes: out.stats.droppedBytes });
    expect(footer.dropped.events).toBe(4000 - out.accepted.length);
    expect(lines.some((l) => l.type === 'end')).toBe(true);
  });

  it('leaves whole lines when the process is killed with SIGKILL mid-stream', async () => {
    const file = join(dir, 'killed.jsonl');
    const child = spawnProcess(process.execPath, ['-e', ENDLESS, REPO_ROOT, file]);
    await child.waitForLine(/^READY$/, { timeoutMs: 30_000 });
    child.child.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    const { lines } = parseLines<RecordingLine>(await readFile(file, 'utf8'), 'killed.jsonl'); // throws on a broken line
    expect(lines[0]!.type).toBe('header');
    expect(lines.length).toBeGreaterThan(100);
    for (const l of lines) expect(validate(l)).toBe(true);
    const ids = lines.flatMap((l) => (l.type === 'sse' && l.id !== undefined ? [Number(l.id)] : []));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true); // in stream order
  });
});
