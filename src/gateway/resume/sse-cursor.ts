/**
 * Where a client's SSE stream stands, read incrementally off the bytes the gateway forwards: the
 * last event id the client has (its `Last-Event-ID` if it reconnected now), whether the stream can
 * be resumed from there, and which event ids it already got (so that an upstream that replays more
 * than asked cannot make the client see an event twice).
 *
 * Pure: no I/O, no time. `push` returns the slices to forward, in order; bytes are never changed,
 * only whole duplicate events are dropped. The parse follows the HTML "server-sent events"
 * rules that matter for a cursor: lines end with CRLF, LF or CR; a blank line ends an event
 * block; `id` sets the last event id when the field is processed (even in a block without data),
 * an empty `id` clears it, an `id` containing NUL is ignored; comment lines start with `:`.
 *
 * Invariants (checked by test/unit/gateway/resume/sse-cursor.property.test.ts against a model):
 * - an event block is forwarded whole or not at all while the stream is resumable: the tail of an
 *   incomplete block is held back (at most `maxHeldBytes`), never a complete one;
 * - `resumeFrom` is non-null only at a point where every event after that id is exactly what the
 *   client has not received: no partial block forwarded, no event without id since that id;
 * - after a {@link SseCursor.restart} (a resumed response), a block whose id was already forwarded is
 *   dropped, unless part of it was forwarded before its `id` line was read (an id after more than
 *   `maxHeldBytes` of the block: counted, not hidden). Before any restart nothing is dropped: the
 *   first response is the upstream's own, passed through byte for byte even when it repeats an id.
 */

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
/** `id` as bytes. */
const I = 0x69;
const D = 0x64;
const D_ = 0x61; // 'a' of "data"
const T = 0x74;

/** Longest `id` value kept; a longer one makes the stream not resumable (ids are short in practice). */
export const MAX_EVENT_ID_BYTES = 1024;

/** The index of `byte` in `chunk` from `from` on, or `chunk.length` when there is none. */
function indexOrEnd(chunk: Buffer, byte: number, from: number): number {
  const at = chunk.indexOf(byte, from);
  return at < 0 ? chunk.length : at;
}

/**
 * Adds `b` to the slices to forward, joined to the last one when they are adjacent in memory (two
 * parts of one chunk): a stream of small events goes out as one slice per chunk, i.e. one write to
 * the client per upstream read, not one per event.
 */
function append(out: Buffer[], b: Buffer): void {
  const prev = out[out.length - 1];
  if (prev !== undefined && prev.buffer === b.buffer && prev.byteOffset + prev.length === b.byteOffset) {
    out[out.length - 1] = Buffer.from(prev.buffer, prev.byteOffset, prev.length + b.length);
  } else {
    out.push(b);
  }
}

export interface SseCursorOptions {
  /**
   * Most bytes of one incomplete event block held back while the stream is resumable. Past it the
   * block is forwarded as it comes and the stream is not resumable until a later event carries an id.
   */
  maxHeldBytes: number;
  /** Most event ids remembered for duplicate filtering (the oldest is forgotten first). */
  maxRememberedIds: number;
}

/** What `push` decided, for the stream's counters. */
export interface SseCursorStats {
  /** Event blocks forwarded (dispatched events and comment/retry-only blocks alike). */
  blocks: number;
  /** Blocks dropped because their id had already been forwarded. */
  duplicates: number;
  /** Blocks whose id had been forwarded but that were partly forwarded before their id was read. */
  duplicatesForwarded: number;
}

/** The field of the line being read, from its first bytes. */
type Field = 'unknown' | 'id' | 'data' | 'other' | 'comment';

export class SseCursor {
  readonly stats: SseCursorStats = { blocks: 0, duplicates: 0, duplicatesForwarded: 0 };
  #lastId: string | null = null;
  /** An event without id was forwarded after the last id: the client's position is not addressable. */
  #dirty = false;
  readonly #seen = new Set<string>();
  /** A resumed response is being read: replays of forwarded ids are dropped (set by {@link restart}). */
  #resumed = false;
  // Line state.
  #lineLen = 0;
  #prevCR = false;
  #field: Field = 'unknown';
  #fieldBytes: number[] = [];
  #idBytes: number[] | null = null;
  #idTooLong = false;
  #idSpaceSkipped = false;
  // Block state.
  #blockHasData = false;
  #blockId: string | undefined = undefined;
  #blockIdBad = false;
  #held: Buffer[] = [];
  #heldBytes = 0;
  /** Part of the current block was forwarded before its end (too large, or not resumable then). */
  #partial = false;
  /** The last block ended with a CR (forwarded or dropped): a LF right after it completes that CRLF. */
  #crOf: 'forwarded' | 'dropped' | null = null;
  /** The next bytes are the start of a resumed upstream response (a BOM there is dropped). */
  #atAttemptStart = false;

  constructor(private readonly opts: SseCursorOptions) {}

  /**
   * The `Last-Event-ID` to resume with, or null when the stream cannot be resumed now: no id yet
   * (or cleared by an empty `id`), an event without id since the last one, or part of an event
   * forwarded whose rest would be lost.
   */
  get resumeFrom(): string | null {
    if (this.#dirty || this.#partial || this.#idTooLong || this.#blockIdBad) return null;
    return this.#lastId;
  }

  /** True once any event with a (usable) id was forwarded: the upstream supports resumption. */
  get sawIds(): boolean {
    return this.#seen.size > 0;
  }

  /** The last event id forwarded (whether or not the stream is resumable now). */
  get lastId(): string | null {
    return this.#lastId;
  }

  /** Feeds one chunk of upstream body; returns the slices to forward now, in order. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let start = 0;
    if (this.#atAttemptStart) {
      this.#atAttemptStart = chunk.length === 0;
      // A byte-order mark is only valid at the start of the whole stream: the client's is behind it.
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) start = 3;
    }
    let segStart = start;
    // Where the next LF and CR are in this chunk (chunk.length: none); looked up only when passed.
    let nextLF = -1;
    let nextCR = -1;
    for (let i = start; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b === LF && this.#prevCR) {
        this.#prevCR = false;
        // The LF of a CRLF that ended the last block belongs to that block: never hold it back.
        if (i === segStart && this.#crOf !== null && this.#held.length === 0) {
          if (this.#crOf === 'forwarded') append(out, chunk.subarray(i, i + 1));
          segStart = i + 1;
        }
        this.#crOf = null;
        continue;
      }
      this.#crOf = null;
      if (b === LF || b === CR) {
        this.#prevCR = b === CR;
        if (this.#endLine()) {
          const forwarded = this.#endBlock(chunk.subarray(segStart, i + 1), out);
          if (b === CR) this.#crOf = forwarded ? 'forwarded' : 'dropped';
          segStart = i + 1;
        }
        continue;
      }
      this.#prevCR = false;
      const f = this.#field;
      if (f === 'data' || f === 'other' || f === 'comment') {
        // The rest of this line cannot change the cursor: jump to its end (most bytes are data).
        if (nextLF < i) nextLF = indexOrEnd(chunk, LF, i);
        if (nextCR < i) nextCR = indexOrEnd(chunk, CR, i);
        const eol = nextLF < nextCR ? nextLF : nextCR;
        this.#lineLen += eol - i;
        i = eol - 1;
        continue;
      }
      this.#lineByte(b);
    }
    if (segStart < chunk.length) this.#tail(chunk.subarray(segStart), out);
    return out;
  }

  /** The upstream response ended normally: whatever is held is forwarded as it is. */
  flush(): Buffer[] {
    const out = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    return out;
  }

  /**
   * The current upstream response is abandoned and a resumed one follows: the held tail of an
   * incomplete block is dropped (the resumed response starts with that event again) and the parse
   * starts afresh at a block boundary.
   */
  restart(): void {
    this.#held = [];
    this.#heldBytes = 0;
    this.#resetBlock();
    this.#lineLen = 0;
    this.#prevCR = false;
    this.#crOf = null;
    this.#resetLine();
    this.#atAttemptStart = true;
    this.#resumed = true;
  }

  #lineByte(b: number): void {
    const n = this.#lineLen++;
    if (this.#field === 'unknown') {
      if (n === 0 && b === COLON) {
        this.#field = 'comment';
        return;
      }
      if (b === COLON) return this.#fieldDone();
      if (this.#fieldBytes.length < 5) this.#fieldBytes.push(b);
      else this.#field = 'other';
      return;
    }
    if (this.#field !== 'id' || this.#idBytes === null) return;
    if (this.#idBytes.length === 0 && b === SPACE && !this.#idSpaceSkipped) {
      this.#idSpaceSkipped = true;
      return;
    }
    this.#idSpaceSkipped = true;
    if (this.#idBytes.length >= MAX_EVENT_ID_BYTES) this.#idTooLong = true;
    else this.#idBytes.push(b);
  }

  /** The field name ended at a colon: which field is it. */
  #fieldDone(): void {
    const f = this.#fieldBytes;
    if (f.length === 2 && f[0] === I && f[1] === D) {
      this.#field = 'id';
      this.#idBytes = [];
      this.#idSpaceSkipped = false;
    } else if (f.length === 4 && f[0] === D && f[1] === D_ && f[2] === T && f[3] === D_) {
      this.#field = 'data';
    } else {
      this.#field = 'other';
    }
  }

  /** A line ended; returns true when it was blank (the block ends). */
  #endLine(): boolean {
    if (this.#lineLen === 0) return true;
    // A line without a colon is a field with an empty value ("data" alone is an empty data line).
    if (this.#field === 'unknown') this.#fieldDone();
    if (this.#field === 'data') this.#blockHasData = true;
    if (this.#field === 'id' && this.#idBytes !== null) this.#takeId(this.#idBytes);
    this.#lineLen = 0;
    this.#resetLine();
    return false;
  }

  #takeId(bytes: number[]): void {
    if (this.#idTooLong) {
      this.#blockIdBad = true;
      this.#idTooLong = false;
      return;
    }
    if (bytes.includes(0)) return; // ignored, per the SSE rules
    this.#blockId = Buffer.from(bytes).toString('utf8');
    this.#blockIdBad = false;
  }

  #resetLine(): void {
    this.#field = 'unknown';
    this.#fieldBytes = [];
    this.#idBytes = null;
    this.#idSpaceSkipped = false;
  }

  /** A block ended with `last` (its bytes in this chunk): forward it (true), or drop it as a duplicate. */
  #endBlock(last: Buffer, out: Buffer[]): boolean {
    const id = this.#blockId;
    const duplicate = this.#isReplay(id);
    const dropped = duplicate && !this.#partial;
    if (dropped) {
      this.stats.duplicates++;
    } else {
      // A duplicate that was already partly forwarded cannot be taken back (counted, not hidden).
      if (duplicate) this.stats.duplicatesForwarded++;
      for (const b of this.#held) append(out, b);
      append(out, last);
      this.stats.blocks++;
      this.#applyBlock(id);
    }
    this.#held = [];
    this.#heldBytes = 0;
    this.#resetBlock();
    return !dropped;
  }

  /** The client got a block with this id (or none): move the cursor as its SSE parser does. */
  #applyBlock(id: string | undefined): void {
    if (this.#blockIdBad) {
      this.#lastId = null; // an id we could not keep: the client's position is unknown to us
      return;
    }
    if (id === '') {
      this.#lastId = null;
      this.#dirty = false;
    } else if (id !== undefined) {
      this.#lastId = id;
      this.#dirty = false;
      this.#remember(id);
    } else if (this.#blockHasData && this.#lastId !== null) {
      this.#dirty = true;
    }
  }

  /** A block with this id in a resumed response repeats one the client has (dropped, D90). */
  #isReplay(id: string | undefined): boolean {
    return this.#resumed && id !== undefined && id !== '' && this.#seen.has(id);
  }

  #remember(id: string): void {
    this.#seen.add(id);
    if (this.#seen.size > this.opts.maxRememberedIds) {
      const oldest = this.#seen.values().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
  }

  #resetBlock(): void {
    this.#blockHasData = false;
    this.#blockId = undefined;
    this.#blockIdBad = false;
    this.#partial = false;
  }

  /** The chunk ended inside a block: hold the tail while that keeps the stream resumable. */
  #tail(rest: Buffer, out: Buffer[]): void {
    if (!this.#partial && this.#isReplay(this.#blockId)) {
      // A replayed event the client has: its id came first, so its bytes are dropped as they come.
      this.#held = [];
      this.#heldBytes = 0;
      return;
    }
    if (!this.#partial && this.resumeFrom !== null && this.#heldBytes + rest.length <= this.opts.maxHeldBytes) {
      this.#held.push(rest);
      this.#heldBytes += rest.length;
      return;
    }
    for (const b of this.#held) append(out, b);
    append(out, rest);
    this.#held = [];
    this.#heldBytes = 0;
    this.#partial = true;
  }
}
