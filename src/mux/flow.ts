import { MAX_WINDOW } from '../protocol';

/**
 * Receive-side window accounting for one stream or one connection.
 *
 * The peer may send at most `remaining` bytes. Bytes the application has consumed become credit;
 * credit is returned to the peer (WINDOW_UPDATE) in batches of at least a quarter of the initial
 * window, so a busy stream costs one update per quarter window rather than one per frame, except
 * that pending credit goes out at once when it is at least what the peer has left (`remaining`).
 * Without that exception a shared (connection) window could deadlock: streams whose readers have
 * stalled hold their bytes uncredited, and once they hold more than three quarters of the window
 * the credit consumed on the other streams stays below the batch threshold while the sender waits
 * at zero. With it, a sender at zero credit implies nothing is pending, so every uncredited byte is
 * held by a reader that has not consumed it. Call {@link poll} after {@link receive} to apply the
 * rule when a frame, rather than a consumption, brings `remaining` down.
 *
 * A window may grow (decisions.md D70): with `maxSize` above `initial`, an update whose
 * caller says the reader keeps up (`mayGrow`) doubles the window, up to `maxSize`, once a whole
 * window of credit has gone back since the last growth: a bulk transfer whose reader keeps up then
 * costs one update (and one wake-up of the sender) per quarter of a larger window. The extra is
 * announced with that update. A stalled reader does not consume, so does not grow its window: what
 * any reader can hold stays bounded by `maxSize`.
 */
export class ReceiveWindow {
  private remainingBytes: number;
  private pending = 0;
  private threshold: number;
  private sizeBytes: number;
  /** Credit announced since the window last grew (or was created). */
  private sinceGrowth = 0;

  constructor(
    readonly initial: number,
    readonly maxSize: number = initial,
  ) {
    this.remainingBytes = initial;
    this.sizeBytes = initial;
    this.threshold = Math.max(1, Math.floor(initial / 4));
  }

  /** The window now: `initial`, or more once it grew. */
  get size(): number {
    return this.sizeBytes;
  }

  /** Bytes the peer may still send. */
  get remaining(): number {
    return this.remainingBytes;
  }

  /** Records `n` received bytes. Returns false (and records nothing) if they exceed the window. */
  receive(n: number): boolean {
    if (n > this.remainingBytes) return false;
    this.remainingBytes -= n;
    return true;
  }

  /**
   * Records `n` consumed bytes; returns the increment to announce now, or 0 to keep batching.
   * `flush` forces out whatever is pending (used when a stream ends with credit outstanding).
   */
  consume(n: number, flush = false, mayGrow = false): number {
    this.pending += n;
    return this.take(flush, mayGrow);
  }

  /** Returns the increment due now under the batching rule (see the class comment), or 0. */
  poll(): number {
    return this.take(false);
  }

  private take(flush: boolean, mayGrow = false): number {
    if (this.pending === 0) return 0;
    if (!flush && this.pending < this.threshold && this.pending < this.remainingBytes) return 0;
    let inc = this.pending;
    this.sinceGrowth += inc;
    if (mayGrow && this.sizeBytes < this.maxSize && this.sinceGrowth >= this.sizeBytes) {
      const extra = Math.min(this.sizeBytes, this.maxSize - this.sizeBytes);
      this.sizeBytes += extra;
      this.threshold = Math.max(1, Math.floor(this.sizeBytes / 4));
      this.sinceGrowth = 0;
      inc += extra;
    }
    this.pending = 0;
    this.remainingBytes += inc;
    return inc;
  }
}

/** Send-side credit for one stream or one connection. */
export class SendWindow {
  constructor(private availableBytes: number) {}

  get available(): number {
    return this.availableBytes;
  }

  consume(n: number): void {
    if (n > this.availableBytes) throw new RangeError(`send window exceeded: ${n} > ${this.availableBytes}`);
    this.availableBytes -= n;
  }

  /** Adds credit from a WINDOW_UPDATE. Returns false if the window would overflow (a protocol error). */
  grant(increment: number): boolean {
    if (this.availableBytes + increment > MAX_WINDOW) return false;
    this.availableBytes += increment;
    return true;
  }
}
