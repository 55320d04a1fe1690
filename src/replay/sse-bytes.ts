/**
 * The recorder's SSE parser on bytes (docs/replay.md "Overhead", D94): what a `StringDecoder` feeding
 * eventsource-parser 3.1.1 produces, event for event, without decoding the stream into strings. An
 * event's `data` stays bytes (slices of the chunk, joined only when an event has several data lines)
 * so the encoder can escape it straight into its output; ids, event types, comments and retries are
 * short and decoded. The equivalence, quirks included (a BOM is stripped only as its Latin-1 reading
 * "ï»¿", ids are forgotten after each event, a lone CR ends a line, a CR last in the input waits
 * for a possible LF, an end-of-stream line is parsed whole), is checked against the string parser
 * by a differential property test (test/unit/replay/sse-bytes.test.ts).
 */

import { isUtf8 } from 'node:buffer';

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const COLON = 0x3a;

/** What a string parser fed by a StringDecoder sees as "ï»¿" at the start: C3 AF C2 BB C2 BF. */
const LATIN1_BOM = Buffer.from('ï»¿', 'utf8');

const EMPTY = Buffer.alloc(0);
const FIELD_DATA = Buffer.from('data');
const FIELD_EVENT = Buffer.from('event');
const FIELD_ID = Buffer.from('id');
const FIELD_RETRY = Buffer.from('retry');

/** Where the parser's results go (synchronously, inside `feed` and `reset`). */
export interface SseByteHandler {
  /**
   * A dispatched event: its data lines joined by LF are `buf[start, end)`, readable only during the
   * call; `utf8`: known to be valid UTF-8 (false: not checked, or not valid).
   */
  event(id: string | undefined, type: string | undefined, buf: Buffer, start: number, end: number, utf8: boolean): void;
  retry(ms: number): void;
  comment(text: string): void;
}

/**
 * How many bytes at the end of `b` a UTF-8 StringDecoder would hold back as an incomplete character
 * (the last lead byte within three bytes of the end, short of its length).
 */
export function incompleteUtf8Tail(b: Buffer): number {
  for (let n = 1; n <= Math.min(3, b.length); n++) {
    const c = b[b.length - n]!;
    if ((c & 0xc0) === 0x80) continue;
    const want = (c & 0xe0) === 0xc0 ? 2 : (c & 0xf0) === 0xe0 ? 3 : (c & 0xf8) === 0xf0 ? 4 : 0;
    return want > n ? n : 0;
  }
  return 0;
}

function equalsField(b: Buffer, start: number, end: number, field: Buffer): boolean {
  if (end - start !== field.length) return false;
  for (let i = 0; i < field.length; i++) if (b[start + i] !== field[i]) return false;
  return true;
}

/**
 * Where a feed joins the pending bytes and its chunk: one buffer for every parser of the thread
 * (feeds are synchronous and nothing refers to it once a feed returns: `afterLines` copies what it
 * keeps), so a thousand recorded streams do not each hold one. Dropped after a join larger than
 * {@link JOIN_KEEP_BYTES}.
 */
let joined: Buffer = Buffer.alloc(0);
const JOIN_KEEP_BYTES = 1024 * 1024;

function joinBuffer(n: number): Buffer {
  if (joined.length < n) joined = Buffer.allocUnsafeSlow(Math.max(n, Math.min(2 * joined.length, JOIN_KEEP_BYTES)));
  return joined;
}

export class SseByteParser {
  /** The incomplete last line (raw bytes, a deferred CR included), as pieces in arrival order. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private first = true;
  private id: string | undefined;
  private type: string | undefined;
  private dataLines = 0;
  /** The first data line of the event being read is `dataBuf[dataStart, dataEnd)`; later ones are in `dataRest`. */
  private dataBuf: Buffer = EMPTY;
  private dataStart = 0;
  private dataEnd = 0;
  private dataRest: Buffer[] = [];
  private dataUtf8 = true;
  /** The bytes `processLines` reads are valid UTF-8 (checked once per feed, not per event). */
  private inputUtf8 = true;

  constructor(private readonly on: SseByteHandler) {}

  feed(chunk: Buffer): void {
    // The string parser never sees an incomplete last character: the decoder holds it back.
    const held = this.heldBack(chunk);
    if (this.first) {
      this.first = false;
      // The string parser checks the first string a feed gives it: the pending bytes (after a reset
      // only an incomplete character) and this chunk.
      if (this.startsWithBom(chunk, held)) {
        const skip = LATIN1_BOM.length - this.pendingBytes;
        this.pending = [];
        this.pendingBytes = 0;
        chunk = chunk.subarray(skip);
      }
    }
    if (this.pendingBytes === 0) return this.afterLines(chunk, this.processLines(chunk, chunk.length - held));
    if (chunk.indexOf(LF) === -1 && chunk.indexOf(CR) === -1) {
      this.pending.push(Buffer.from(chunk));
      this.pendingBytes += chunk.length;
      return;
    }
    const n = this.pendingBytes + chunk.length;
    const join = joinBuffer(n);
    let o = 0;
    for (const p of this.pending) o += p.copy(join, o);
    chunk.copy(join, o);
    this.pending = [];
    this.pendingBytes = 0;
    const input = join.subarray(0, n);
    this.afterLines(input, this.processLines(input, n - held));
    if (join.length > JOIN_KEEP_BYTES) joined = EMPTY;
  }

  /** The incomplete character at the end of the pending bytes and `chunk` together (it lies in their last 3 bytes). */
  private heldBack(chunk: Buffer): number {
    if (chunk.length >= 3 || this.pendingBytes === 0) return incompleteUtf8Tail(chunk);
    const tail = [chunk];
    let have = chunk.length;
    for (let i = this.pending.length - 1; i >= 0 && have < 3; i--) {
      tail.unshift(this.pending[i]!);
      have += this.pending[i]!.length;
    }
    const last = Buffer.concat(tail);
    return incompleteUtf8Tail(last.subarray(Math.max(0, last.length - 3)));
  }

  /**
   * Starts over (after dropped chunks, `consume` false; at the end of the stream, `consume` true:
   * the incomplete last line is parsed as one line, as the string parser does). An incomplete
   * character stays, as a StringDecoder keeps it across the parser's reset.
   */
  reset(consume: boolean): void {
    const tail = this.pendingBytes === 0 ? Buffer.alloc(0) : Buffer.concat(this.pending);
    const partial = incompleteUtf8Tail(tail);
    if (consume && tail.length > partial) this.parseLine(tail, 0, tail.length - partial);
    this.pending = partial === 0 ? [] : [Buffer.from(tail.subarray(tail.length - partial))];
    this.pendingBytes = partial;
    this.first = true;
    this.id = undefined;
    this.type = undefined;
    this.clearData();
  }

  private startsWithBom(chunk: Buffer, held: number): boolean {
    const have = this.pendingBytes + chunk.length - held;
    if (have < LATIN1_BOM.length) return false;
    const head = this.pendingBytes === 0 ? chunk : Buffer.concat([...this.pending, chunk.subarray(0, LATIN1_BOM.length)]);
    return head.subarray(0, LATIN1_BOM.length).equals(LATIN1_BOM);
  }

  /** Keeps the unparsed rest; data lines of an event not dispatched yet are copied out of `input`. */
  private afterLines(input: Buffer, rest: number): void {
    if (rest < input.length) {
      this.pending.push(Buffer.from(input.subarray(rest)));
      this.pendingBytes += input.length - rest;
    }
    if (this.dataLines > 0) {
      this.dataBuf = Buffer.from(this.dataBuf.subarray(this.dataStart, this.dataEnd));
      this.dataStart = 0;
      this.dataEnd = this.dataBuf.length;
      this.dataRest = this.dataRest.map((p) => Buffer.from(p));
    }
  }

  /**
   * Parses the complete lines of `b` up to `limit` (past it: an incomplete character, never CR or
   * LF); returns where the incomplete rest starts.
   */
  private processLines(b: Buffer, limit: number): number {
    this.inputUtf8 = isUtf8(limit === b.length ? b : b.subarray(0, limit));
    let start = 0;
    let cr = b.indexOf(CR);
    if (cr === -1) {
      for (let lf = b.indexOf(LF); lf !== -1; lf = b.indexOf(LF, start)) {
        this.parseLine(b, start, lf);
        start = lf + 1;
      }
      return start;
    }
    while (start < limit) {
      if (cr !== -1 && cr < start) cr = b.indexOf(CR, start);
      const lf = b.indexOf(LF, start);
      let end: number;
      if (cr !== -1 && lf !== -1) end = Math.min(cr, lf);
      else if (cr !== -1) end = cr === limit - 1 ? -1 : cr;
      else end = lf;
      if (end === -1) break;
      this.parseLine(b, start, end);
      start = end + 1;
      if (b[end] === CR && b[start] === LF) start++;
    }
    return start;
  }

  private parseLine(b: Buffer, start: number, end: number): void {
    if (start === end) return this.dispatch();
    if (b[start] === COLON) {
      this.on.comment(b.toString('utf8', b[start + 1] === SPACE && start + 1 < end ? start + 2 : start + 1, end));
      return;
    }
    // Field names are short: a bounded loop, not an indexOf that could run into the next lines.
    let colon = start;
    while (colon < end && b[colon] !== COLON) colon++;
    if (colon === end) colon = -1;
    const fieldEnd = colon === -1 ? end : colon;
    const valueStart = colon === -1 ? end : colon + 1 < end && b[colon + 1] === SPACE ? colon + 2 : colon + 1;
    if (equalsField(b, start, fieldEnd, FIELD_DATA)) {
      if (this.dataLines++ === 0) {
        this.dataBuf = b;
        this.dataStart = valueStart;
        this.dataEnd = end;
        this.dataUtf8 = this.inputUtf8;
      } else {
        this.dataRest.push(b.subarray(valueStart, end));
        this.dataUtf8 &&= this.inputUtf8;
      }
    }
    else if (equalsField(b, start, fieldEnd, FIELD_EVENT)) this.type = valueStart === end ? undefined : b.toString('utf8', valueStart, end);
    else if (equalsField(b, start, fieldEnd, FIELD_ID)) {
      let nul = valueStart;
      while (nul < end && b[nul] !== 0) nul++;
      if (nul === end) this.id = b.toString('utf8', valueStart, end);
    } else if (equalsField(b, start, fieldEnd, FIELD_RETRY)) {
      const value = b.toString('utf8', valueStart, end);
      if (/^\d+$/.test(value)) this.on.retry(parseInt(value, 10));
    }
  }

  private dispatch(): void {
    if (this.dataLines === 1) this.on.event(this.id, this.type, this.dataBuf, this.dataStart, this.dataEnd, this.dataUtf8);
    else if (this.dataLines > 1) {
      const parts = [this.dataBuf.subarray(this.dataStart, this.dataEnd)];
      for (const p of this.dataRest) parts.push(NEWLINE, p);
      const data = Buffer.concat(parts);
      this.on.event(this.id, this.type, data, 0, data.length, this.dataUtf8);
    }
    this.id = undefined;
    this.type = undefined;
    this.clearData();
  }

  private clearData(): void {
    this.dataLines = 0;
    this.dataBuf = EMPTY;
    if (this.dataRest.length > 0) this.dataRest = [];
  }
}

const NEWLINE = Buffer.from('\n');
