/**
 * The synchronous audit file's write coalescing (D75): sealed lines written during one event-loop turn
 * go to the file in one `write` at the end of that turn (a `setImmediate`), or at once when they pass
 * {@link BATCH_MAX_CHARS}. One system call per turn instead of one per record: under load a turn
 * finishes many requests, and on a quiet process the record no longer sits between a response and
 * the frames that carry it (the tunnel's frame flush is queued earlier in the same turn).
 *
 * A batch is written before anything that must follow it (a flush, a reopen, the file's end) and,
 * through one `exit` hook shared by the open batches, when the process exits, also on an uncaught
 * exception. What a SIGKILL can take is the current turn's lines, where it took the line being
 * written before.
 */

/** Characters of pending lines that are written at once rather than at the end of the turn. */
export const BATCH_MAX_CHARS = 64 * 1024;

/** Batches with lines waiting, written synchronously if the process exits first. */
const waiting = new Set<LineBatch>();
let exitHooked = false;

function writeAllOnExit(): void {
  for (const b of [...waiting]) b.writeNow();
}

export class LineBatch {
  #pending = '';
  #scheduled: NodeJS.Immediate | null = null;

  /** `write` takes whole lines; it must not throw (the destination's stream reports its own errors). */
  constructor(private readonly write: (lines: string) => void) {}

  /** Queues sealed lines; they are written at the end of this turn (or now, past the bound). */
  add(lines: string): void {
    this.#pending += lines;
    if (this.#pending.length >= BATCH_MAX_CHARS) {
      this.writeNow();
      return;
    }
    if (this.#scheduled === null) {
      this.#scheduled = setImmediate(() => this.writeNow());
      waiting.add(this);
      if (!exitHooked) {
        exitHooked = true;
        process.on('exit', writeAllOnExit);
      }
    }
  }

  /** Writes what is pending now (synchronously, as the stream writes). */
  writeNow(): void {
    if (this.#scheduled !== null) {
      clearImmediate(this.#scheduled);
      this.#scheduled = null;
    }
    waiting.delete(this);
    if (this.#pending === '') return;
    const lines = this.#pending;
    this.#pending = '';
    this.write(lines);
  }
}
