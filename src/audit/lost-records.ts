import type { Logger } from 'pino';
import { F } from '../log';
import { CHECKPOINT_MSG } from './chain';
import { AUDIT_ERROR } from './errors';
import { safeLog, type LostRecordsHook } from './trail';

/**
 * Records an audit destination loses after its `write` already returned true (D83): the
 * synchronous file's per-turn batch (D75) is written at the end of the turn, and lines past the
 * 8 MiB buffer are dropped by the stream. Such a loss is reported like a failed single write: it
 * counts in `mcp_tunnel_audit_write_failures_total` (through the `onWriteFailed` of every
 * `auditSink` writing to the destination, see `AUDIT_LOST_RECORDS` in trail.ts), and a batch whose
 * write threw logs the same `TUNNEL_AUDIT_WRITE_FAILED` line per record (`code`, `err`, `rid`).
 */

/** What a batch is written to (the destination's sonic-boom stream). */
export interface LineSink {
  write(lines: string): unknown;
}

const CHECKPOINT_MARK = `"msg":"${CHECKPOINT_MSG}"`;

export class LostRecords {
  readonly #log: Logger;
  readonly #listeners = new Set<() => void>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Installed on the destination's logger under `AUDIT_LOST_RECORDS`. */
  readonly listen: LostRecordsHook = (listener) => {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  };

  /**
   * Writes a batch of sealed lines. Never throws: when the stream throws (a destroyed stream; a
   * failing fd makes sonic-boom emit 'error' and keep the lines instead), every record of the batch
   * is lost and reported exactly as a failed single write is by `writeAuditRecord`.
   */
  write(stream: LineSink, lines: string): void {
    try {
      stream.write(lines);
    } catch (err: unknown) {
      for (const line of recordLines(lines)) {
        const fields = { [F.code]: AUDIT_ERROR.writeFailed, [F.err]: err, [F.requestId]: ridOf(line) };
        safeLog(this.#log, 'error', fields, 'audit record write failed');
        this.#notify(1);
      }
    }
  }

  /** Lines the stream dropped (its buffer was full): counts their records as lost; returns how many. */
  dropped(lines: string): number {
    const records = recordLines(lines).length;
    this.#notify(records);
    return records;
  }

  #notify(records: number): void {
    for (let i = 0; i < records; i++) {
      for (const listener of this.#listeners) {
        try {
          listener();
        } catch {
          // A metrics callback must not throw; if it does, the other listeners still hear.
        }
      }
    }
  }
}

/** The record lines of a batch: every non-empty line but checkpoints (which are not records). */
function recordLines(lines: string): string[] {
  return lines.split('\n').filter((l) => l !== '' && !l.includes(CHECKPOINT_MARK));
}

function ridOf(line: string): unknown {
  try {
    return (JSON.parse(line) as { rid?: unknown } | null)?.rid ?? null;
  } catch {
    return null;
  }
}
