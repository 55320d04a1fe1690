/** Where a chunk sits in a {@link ByteRing}: `end` is the ring's running total once it was put. */
export interface RingSlice {
  off: number;
  len: number;
  end: number;
}

/**
 * The recorder's byte bound as memory (docs/replay.md "Overhead"): a SharedArrayBuffer of
 * `queueLimitBytes`, allocated and touched once when the recording opens. The traffic's thread
 * copies each accepted chunk into it (a memcpy into warm memory: no allocation, no page faults, no
 * garbage per chunk) and the writer thread reads it from there, releasing space once the chunk is in
 * the file. A chunk that does not fit before the end starts at 0; the skipped tail counts as used
 * until the chunk is released. Single producer (`put`), single consumer (`release`, in order).
 */
export class ByteRing {
  readonly buffer: SharedArrayBuffer;
  private readonly view: Buffer;
  private head = 0;
  private released = 0;

  constructor(capacity: number) {
    this.buffer = new SharedArrayBuffer(Math.max(1, capacity));
    this.view = Buffer.from(this.buffer);
    this.view.fill(0); // fault the pages in now, not on the traffic's path
  }

  /** Bytes accepted and not yet released (skipped tails included). */
  used(): number {
    return this.head - this.released;
  }

  /** Copies `c` in; undefined when it does not fit (the caller drops and counts it). */
  put(c: Uint8Array): RingSlice | undefined {
    const cap = this.view.length;
    const len = c.byteLength;
    let off = this.head % cap;
    let skip = 0;
    if (off + len > cap) {
      skip = cap - off;
      off = 0;
    }
    if (len > cap || this.used() + skip + len > cap) return undefined;
    this.view.set(c, off);
    this.head += skip + len;
    return { off, len, end: this.head };
  }

  /** The consumer wrote everything up to `end` (a {@link RingSlice.end}): that space is free again. */
  release(end: number): void {
    if (end > this.released) this.released = end;
  }
}

/** The consumer's copy of a slice (the encoder may keep chunks past their release). */
export function readSlice(ring: Buffer, s: RingSlice): Buffer {
  return Buffer.from(ring.subarray(s.off, s.off + s.len));
}
