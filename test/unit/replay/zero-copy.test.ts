/**
 * The inline writer keeps a tap's chunk by reference (docs/replay.md "Overhead", D71): no copy
 * on the traffic's thread, the byte bound charged with the memory the chunk keeps alive, and copies
 * only where keeping the reference is unsafe (shared memory) or pins much more than the chunk.
 */
import { join } from 'node:path';
import { loadRecording, Recorder } from '../../../src/replay';
import { keptChunk } from '../../../src/replay/recorder';
import { tempDirEach } from '../../helpers/temp-dir';

describe('keptChunk', () => {
  it('keeps a chunk that is (most of) its own memory by reference, charged at its parent size', () => {
    const exact = Buffer.from(new ArrayBuffer(1000));
    const kept = keptChunk(exact);
    expect(kept.bytes).toBe(exact);
    expect(kept.size).toBe(1000);

    const parent = new ArrayBuffer(64 * 1024);
    const most = new Uint8Array(parent, 100, 40 * 1024); // a body view into a socket read, undici-style
    const k2 = keptChunk(most);
    expect(k2.bytes.buffer).toBe(parent);
    expect(k2.bytes.byteOffset).toBe(100);
    expect(k2.size).toBe(64 * 1024);
  });

  it('copies a small slice of a large parent, and anything on shared memory, charged at its length', () => {
    const parent = Buffer.alloc(64 * 1024, 0x61);
    const small = parent.subarray(10, 1010);
    const k = keptChunk(small);
    expect(k.bytes.buffer).not.toBe(parent.buffer);
    expect(k.bytes.equals(small)).toBe(true);
    expect(k.size).toBe(1000);

    const shared = Buffer.from(new SharedArrayBuffer(4096));
    shared.fill(0x62);
    const ks = keptChunk(shared);
    expect(ks.bytes.buffer).not.toBe(shared.buffer);
    expect(ks.bytes.equals(shared)).toBe(true);
    expect(ks.size).toBe(4096);
  });
});

describe('Recorder (inline writer) without copies', () => {
  const tmp = tempDirEach('zero-copy-');

  it('bounds the queue by the memory its chunks pin, and writes the bytes as they were handed over', async () => {
    const file = join(tmp.path, 'r.jsonl');
    const rec = await Recorder.open({ file, side: 'test', thread: false, queueLimitBytes: 150 * 1024 });
    const tap = rec.exchange({ id: 'x', server: 's' });
    tap.requestHead({ method: 'GET', path: '/mcp', headers: [] });
    tap.responseHead({ status: 200, headers: [['content-type', 'application/octet-stream']] });
    // Three 40 KiB chunks, each the most of its own 64 KiB read: by length they fit (120 KiB), by the
    // memory they keep alive only two do (128 KiB).
    const chunks = [0x61, 0x62, 0x63].map((b) => new Uint8Array(new ArrayBuffer(64 * 1024), 0, 40 * 1024).fill(b));
    for (const c of chunks) tap.responseChunk(c); // synchronous: the writer cannot run meanwhile
    expect(rec.stats()).toMatchObject({ droppedEvents: 1, droppedBytes: 64 * 1024, queuedBytes: 2 * 64 * 1024 + 512 });
    tap.end();
    await rec.close();
    const recording = await loadRecording(file);
    const bytes = recording.exchanges[0]!.response!.body;
    expect(bytes.equals(Buffer.concat([Buffer.from(chunks[0]!), Buffer.from(chunks[1]!)]))).toBe(true);
    expect(recording.footers[0]!.dropped).toEqual({ events: 1, bytes: 64 * 1024 });
  });
});
