import { ErrorCode } from '../protocol';
import type { MuxStream } from './stream';

/** Bounds on {@link discardIncoming}. */
export interface DiscardBudget {
  /** Bytes discarded before the stream is reset instead. */
  maxBytes: number;
  /** Milliseconds to wait for the peer's END_STREAM before the stream is reset instead. */
  maxMs: number;
}

/**
 * Default budget. A peer that follows docs/protocol.md §5 ends its side as soon as it sees the
 * complete response, so what is left to discard is what was in flight: at most one stream window
 * (256 KiB by default) plus one write buffer.
 */
export const DEFAULT_DISCARD_BUDGET: Readonly<DiscardBudget> = Object.freeze({ maxBytes: 4 * 1024 * 1024, maxMs: 10_000 });

/** How a discard ended. */
export interface DiscardResult {
  /** Bytes read and thrown away (they still count in `stream.bytesReceived`). */
  discarded: number;
  /** `end`: the peer's END_STREAM arrived; `reset`: over budget, RST_STREAM NO_ERROR sent; `closed`: the stream died otherwise. */
  outcome: 'end' | 'reset' | 'closed';
}

/**
 * Our side of the exchange is complete (the response is sent) but the peer's is not: the rest of
 * what it sends is no longer wanted. Reads and drops it, so its flow-control credit goes back at
 * once, until the peer's END_STREAM; past `budget`, resets the stream with NO_ERROR ("stop sending,
 * the response is complete", RFC 9113 §8.1) so a peer that keeps sending cannot pin the stream.
 * Either way the stream ends closed and every byte of credit is returned.
 *
 * Unpipes the stream from wherever it was piped to (the reader has stopped caring). Never rejects.
 */
export function discardIncoming(stream: MuxStream, budget: DiscardBudget = DEFAULT_DISCARD_BUDGET): Promise<DiscardResult> {
  return new Promise((resolve) => {
    let discarded = 0;
    let settled = false;
    const finish = (outcome: DiscardResult['outcome']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
      resolve({ discarded, outcome });
    };
    const overBudget = (): void => {
      if (settled) return;
      stream.resetWith(ErrorCode.NO_ERROR, 'request body not read: the response is complete');
      finish('reset');
    };
    const onData = (chunk: Buffer): void => {
      discarded += chunk.length;
      if (discarded > budget.maxBytes) overBudget();
    };
    const onEnd = (): void => finish('end');
    const onClose = (): void => finish('closed');
    const timer = setTimeout(overBudget, budget.maxMs);
    timer.unref();
    if (stream.readableEnded) return finish('end');
    if (stream.destroyed) return finish('closed');
    stream.unpipe();
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onClose);
    stream.resume();
  });
}
