import { ByteRing, readSlice } from '../../../src/replay/ring';

describe('ByteRing (the recorder byte bound shared with the writer thread)', () => {
  it('holds at most its capacity, frees space on release, and wraps a chunk that does not fit before the end', () => {
    const ring = new ByteRing(10);
    const view = Buffer.from(ring.buffer);
    const a = ring.put(Buffer.from('abcd'))!;
    const b = ring.put(Buffer.from('efgh'))!;
    expect([a, b]).toEqual([
      { off: 0, len: 4, end: 4 },
      { off: 4, len: 4, end: 8 },
    ]);
    expect(ring.put(Buffer.from('ijk'))).toBeUndefined(); // 8 + 3 > 10
    ring.release(a.end);
    // 3 bytes do not fit at 8..10: the chunk starts at 0 and the 2-byte tail counts as used.
    const c = ring.put(Buffer.from('ijk'))!;
    expect(c).toEqual({ off: 0, len: 3, end: 13 });
    expect(ring.used()).toBe(9);
    expect(readSlice(view, b).toString()).toBe('efgh');
    expect(readSlice(view, c).toString()).toBe('ijk');
    expect(ring.put(Buffer.from('xy'))).toBeUndefined();
    ring.release(c.end);
    expect(ring.used()).toBe(0);
    expect(ring.put(Buffer.alloc(11))).toBeUndefined(); // larger than the ring: dropped, never split
  });

  it('gives the consumer a copy that stays valid after the space is reused', () => {
    const ring = new ByteRing(4);
    const s = ring.put(Buffer.from('abcd'))!;
    const copy = readSlice(Buffer.from(ring.buffer), s);
    ring.release(s.end);
    ring.put(Buffer.from('wxyz'));
    expect(copy.toString()).toBe('abcd');
  });
});
