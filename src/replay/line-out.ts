const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const HEX = Buffer.from('0123456789abcdef');
/** JSON.stringify's two-character escapes, by control character (0 = none: `\u00XX`). */
const SHORT_ESCAPE = new Uint8Array(0x20);
SHORT_ESCAPE[0x08] = 0x62; // \b
SHORT_ESCAPE[0x09] = 0x74; // \t
SHORT_ESCAPE[0x0a] = 0x6e; // \n
SHORT_ESCAPE[0x0c] = 0x66; // \f
SHORT_ESCAPE[0x0d] = 0x72; // \r

/**
 * The recording writer's output: encoded lines appended as strings or, for SSE event data, as bytes
 * escaped straight from the chunk (D94). One reused buffer; a line larger than what is left grows
 * it, and it shrinks back to its usual size when taken.
 */
export class LineOut {
  private buf: Buffer;
  private used = 0;

  constructor(private readonly size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** Bytes appended since the last {@link take}. */
  get length(): number {
    return this.used;
  }

  /** Appends `s` as UTF-8. */
  string(s: string): void {
    // A UTF-16 code unit is at most 3 UTF-8 bytes: an upper bound that needs no byteLength pass.
    this.ensure(s.length * 3);
    this.used += this.buf.write(s, this.used, 'utf8');
  }

  /**
   * Appends `data[start, end)` (valid UTF-8) as a JSON string, quotes included: byte for byte what
   * `JSON.stringify(data.toString('utf8', start, end))` gives, without the string.
   */
  jsonString(data: Buffer, start = 0, end = data.length): void {
    this.ensure((end - start) * 6 + 2);
    const out = this.buf;
    let o = this.used;
    out[o++] = QUOTE;
    let i = start;
    while (i < end) {
      // A run of bytes that need no escape: scanned, then copied (long runs in one memcpy).
      let j = i;
      while (j < end) {
        const c = data[j]!;
        if (c < 0x20 || c === QUOTE || c === BACKSLASH) break;
        j++;
      }
      if (j - i > 32) o += data.copy(out, o, i, j);
      else while (i < j) out[o++] = data[i++]!;
      if (j === end) break;
      const c = data[j]!;
      i = j + 1;
      out[o++] = BACKSLASH;
      if (c >= 0x20) out[o++] = c;
      else if (SHORT_ESCAPE[c] !== 0) out[o++] = SHORT_ESCAPE[c]!;
      else {
        out[o++] = 0x75; // u
        out[o++] = 0x30;
        out[o++] = 0x30;
        out[o++] = HEX[c >> 4]!;
        out[o++] = HEX[c & 15]!;
      }
    }
    out[o++] = QUOTE;
    this.used = o;
  }

  /** Appends `head` (a record's JSON up to its last member's name), `data[start, end)` as that member's JSON string, and `}\n`. */
  recordEndingInString(head: string, data: Buffer, start: number, end: number): void {
    this.string(head);
    this.jsonString(data, start, end);
    this.ensure(2);
    this.buf[this.used++] = 0x7d; // }
    this.buf[this.used++] = 0x0a;
  }

  /** What was appended; the buffer is reused from now on, so write it out before appending more. */
  take(): Buffer {
    const bytes = this.buf.subarray(0, this.used);
    this.used = 0;
    if (this.buf.length > this.size) this.buf = Buffer.allocUnsafeSlow(this.size);
    return bytes;
  }

  private ensure(n: number): void {
    if (this.used + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.used + n, 2 * this.buf.length));
    this.buf.copy(next, 0, 0, this.used);
    this.buf = next;
  }
}
