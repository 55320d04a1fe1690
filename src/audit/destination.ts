import pino, { type Logger } from 'pino';
import { TunnelError } from '../errors';
import { F, REDACT_PATHS } from '../log';
import { AuditChain, type CheckpointSigner } from './chain';
import { AUDIT_ERROR } from './errors';
import { fastAuditLine } from './fast-line';
import { LineBatch } from './line-batch';
import { LostRecords } from './lost-records';
import { AUDIT } from './fields';
import { auditFieldsOf, sanitizeAuditRecord, type AuditRecord } from './records';
import { AUDIT_LOST_RECORDS, DROP_REPORT_EVERY, FAST_AUDIT_WRITE, safeLog, writeAuditRecord, type FastAuditWrite } from './trail';

type SonicBoom = ReturnType<typeof pino.destination>;

/**
 * Bytes a file destination may buffer before it drops records: asynchronous, what waits for the disk;
 * synchronous, what failed to write (a full disk). Bounds memory when the file cannot be opened, the
 * disk stalls or writes fail; drops are reported on the operational logger.
 */
export const AUDIT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** Default `audit.checkpoint.every`. */
export const DEFAULT_CHECKPOINT_EVERY = 1000;
/** Default `audit.checkpoint.intervalMs`. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 60_000;

/** How an audit destination chains and signs its records. */
export interface AuditChainSettings {
  /** Signs checkpoints (`loadCheckpointSigner`); null or absent: no checkpoints. */
  signer?: CheckpointSigner | null;
  /** A checkpoint every this many records (0 = off); default 1000. */
  every?: number;
  /** A checkpoint this often (ms) when records were written since the last one (0 = off); default 60000. */
  intervalMs?: number;
  /** Chain id; default random. */
  id?: string;
  /** Clock of checkpoint records; default `new Date()`. */
  now?: () => Date;
}

export interface AuditDestinationOptions {
  /** Operational logger that receives destination errors and dropped-record warnings (never the records). */
  log: Logger;
  /** Hash chain and signed checkpoints (docs/audit.md). Every line is chained; checkpoints need a signer. */
  chain?: AuditChainSettings;
  /**
   * A file is written synchronously (default true: no thread-pool round trip per record, which on a
   * quiet process costs two thread wake-ups per record); false: asynchronously, buffered up to
   * {@link AUDIT_MAX_BUFFERED_BYTES}, dropping beyond (for a filesystem that may stall).
   */
  sync?: boolean;
}

/** Where the last sealed line of a destination's chain stands. */
export interface AuditChainPosition {
  chain: string;
  seq: number;
  hash: string;
}

/**
 * One open audit destination (a file, stdout or stderr), owned by whoever opened it: that owner
 * hands `logger` to the components (`startGateway` / `startProxy` take it as `auditLogger`),
 * reopens it on SIGHUP and closes it on shutdown. No state lives outside the object.
 */
export interface AuditDestination {
  /**
   * The pino logger whose lines go to this destination, sealed into its hash chain in write order.
   * `logger.flush(cb)` waits like {@link AuditDestination.flush}.
   */
  readonly logger: Logger;
  /**
   * Writes one record (only its side's documented fields; see `sanitizeAuditRecord`). Never throws;
   * false (reported on the operational logger) when it could not be written, e.g. after `close`.
   */
  write(record: AuditRecord): boolean;
  /** Resolves once every line written so far is in the destination (or it failed or closed). Never rejects. */
  flush(): Promise<void>;
  /**
   * Reopens the file at the same path (SIGHUP after logrotate moved it); the chain continues into
   * the new file. A no-op for stdout/stderr and after `close`. Never throws.
   */
  reopen(): void;
  /**
   * Clears the checkpoint timer, writes a final checkpoint (when signing), and for a file waits until
   * every buffered line is written and the file is closed; stdout/stderr stay open. Idempotent; never
   * rejects. Lines written afterwards are lost and reported.
   */
  close(): Promise<void>;
  /** The chain's current position (id, last sequence number and hash). */
  position(): AuditChainPosition;
}

/**
 * Opens an audit destination. `target` is `'stdout'` (fd 1), `'stderr'` (fd 2) or a file path: the
 * file is appended to, its directory created, and writes are asynchronous and bounded
 * (`AUDIT_MAX_BUFFERED_BYTES`). stdout/stderr are written synchronously, as the operational logger
 * does, so lines of both loggers sharing one fd never interleave mid-line.
 *
 * Every line carries `"audit": true`, an ISO `time` and the same redaction as src/log, and is sealed
 * into a hash chain (`chain`, `seq`, `prev`, `hash`; see chain.ts) in write order; with a signer,
 * signed checkpoint lines follow every `every` records, every `intervalMs` and on close. A failing
 * destination (cannot open, disk full) is reported on `options.log` and never throws.
 *
 * @throws TunnelError `TUNNEL_AUDIT_DESTINATION_INVALID` when `target` is empty.
 */
export function openAuditDestination(target: string, options: AuditDestinationOptions): AuditDestination {
  const trimmed = target.trim();
  if (trimmed === '') throw new TunnelError(AUDIT_ERROR.destinationInvalid, 'audit destination is empty');
  return new PinoAuditDestination(trimmed, options);
}

class PinoAuditDestination implements AuditDestination {
  readonly logger: Logger;
  readonly #stream: SonicBoom;
  /** A file we opened (and may close), as opposed to fd 1 / fd 2. */
  readonly #file: boolean;
  readonly #chain: AuditChain;
  readonly #log: Logger;
  #opened: boolean;
  /** A file written synchronously: every line has reached the file by the end of the turn it was written in (D75). */
  readonly #sync: boolean;
  #failed = false;
  #closing: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** Records (not drop events) the stream dropped. */
  #dropped = 0;
  #isoSecond = -1;
  #isoPrefix = '';
  /** Records lost after their write returned: reported like failed writes (lost-records.ts). */
  readonly #lost: LostRecords;
  /** The synchronous file's per-turn write coalescing; null for stdout/stderr and `sync: false`. */
  readonly #batch: LineBatch | null;

  constructor(target: string, options: AuditDestinationOptions) {
    this.#log = options.log;
    this.#file = target !== 'stdout' && target !== 'stderr';
    this.#opened = !this.#file;
    this.#sync = this.#file && options.sync !== false;
    this.#stream = this.#file ? this.#openFile(target) : pino.destination({ fd: target === 'stdout' ? 1 : 2, sync: true });
    this.#lost = new LostRecords(this.#log);
    this.#batch = this.#sync ? new LineBatch((lines) => this.#lost.write(this.#stream, lines)) : null;
    const settings = options.chain ?? {};
    this.#chain = new AuditChain({
      signer: settings.signer ?? null,
      every: settings.every ?? DEFAULT_CHECKPOINT_EVERY,
      ...(settings.id === undefined ? {} : { id: settings.id }),
      ...(settings.now === undefined ? {} : { now: settings.now }),
    });
    this.#watchStream();
    const intervalMs = settings.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    if (this.#chain.signing && intervalMs > 0) {
      this.#timer = setInterval(() => this.#writeCheckpoint(), intervalMs);
      // Never the reason a process stays up; close() clears it anyway.
      this.#timer.unref();
    }
    // pino writes through this adapter rather than to the sonic-boom stream: pino serialises
    // synchronously and calls write() in call order, so sealing here chains lines exactly in the
    // order they reach the file; and sonic-boom's own flush(cb) does not wait for queued writes when
    // minLength is 0 (its default, which keeps records from lingering in memory), so pino's
    // logger.flush(cb) must reach our flush() instead. (minLength > 0 is not an option: sonic-boom
    // 4.2 then corrupts lines when flush races in-flight writes.)
    const sink = {
      write: (line: string): void => {
        // Refused before sealing, so that a lost line never takes a place in the chain.
        if (this.#closing !== null) throw new TunnelError(AUDIT_ERROR.writeFailed, 'audit destination is closed');
        this.#emit(this.#seal(line));
      },
      flush: (cb?: (err?: Error) => unknown): void => {
        void this.flush().then(() => cb?.());
      },
    };
    this.logger = pino(
      {
        level: 'info',
        redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
        base: { [AUDIT.audit]: true, pid: process.pid },
        timestamp: pino.stdTimeFunctions.isoTime,
      },
      sink,
    );
    // The fast path writeAuditRecord takes for this logger (fast-line.ts); a pino logger otherwise.
    const fast: FastAuditWrite = (record) => this.#writeFast(record);
    Object.defineProperty(this.logger, FAST_AUDIT_WRITE, { value: fast });
    Object.defineProperty(this.logger, AUDIT_LOST_RECORDS, { value: this.#lost.listen });
  }

  /**
   * Writes a sanitised record without pino when fast-line.ts can build its line (false: it cannot,
   * and the caller takes the pino path). Throws like the pino sink does once closing.
   */
  #writeFast(record: AuditRecord): boolean {
    const sanitized = sanitizeAuditRecord(record) as unknown as Record<string, unknown>;
    const fast = fastAuditLine(sanitized, process.pid, this.#isoNow(), auditFieldsOf(record));
    if (fast === null) return false;
    if (this.#closing !== null) throw new TunnelError(AUDIT_ERROR.writeFailed, 'audit destination is closed');
    let line: string;
    try {
      line = this.#chain.sealParsed(fast.line, fast.parsed);
    } catch (err: unknown) {
      safeLog(this.#log, 'error', { [F.code]: AUDIT_ERROR.writeFailed, [F.err]: err }, 'audit record could not be sealed');
      line = fast.line;
    }
    this.#emit(line);
    return true;
  }

  /**
   * `time` of a line, as `new Date().toISOString()` gives it: the part up to the seconds is made once
   * per second, the milliseconds appended (many records share a second under load).
   */
  #isoNow(): string {
    const ms = Date.now();
    const second = Math.floor(ms / 1000);
    if (second !== this.#isoSecond) {
      this.#isoSecond = second;
      this.#isoPrefix = new Date(second * 1000).toISOString().slice(0, 20); // "2026-12-06T18:50:01."
    }
    const milli = ms - second * 1000;
    return `${this.#isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  }

  /** A sealed line to the file: coalesced per turn when synchronous (D75), else straight to the stream. */
  #emit(line: string): void {
    if (this.#batch !== null) this.#batch.add(line);
    else this.#stream.write(line);
  }

  write(record: AuditRecord): boolean {
    return writeAuditRecord(this.logger, record, this.#log);
  }

  flush(): Promise<void> {
    if (!this.#file) return Promise.resolve(); // fd 1 / fd 2 are written synchronously
    this.#batch?.writeNow();
    if (this.#sync) return this.#closing ?? Promise.resolve(); // every write has returned written
    if (this.#closing !== null) return this.#closing;
    if (this.#failed && !this.#opened) return Promise.resolve();
    const stream = this.#stream;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        stream.off('error', done);
        stream.off('close', done);
        stream.off('ready', kick);
        resolve();
      };
      // An asynchronous sonic-boom emits 'drain' each time its queue empties; an empty write makes
      // sure one comes even when nothing is queued, and queues behind everything written before.
      const kick = (): void => {
        stream.on('drain', done);
        try {
          stream.write('');
        } catch {
          done(); // destroyed
        }
      };
      stream.on('error', done);
      stream.on('close', done);
      if (this.#opened) kick();
      else stream.once('ready', kick);
    });
  }

  reopen(): void {
    if (!this.#file || this.#closing !== null) return;
    this.#batch?.writeNow(); // the lines of this turn belong to the file being rotated away
    try {
      this.#stream.reopen();
    } catch (err: unknown) {
      safeLog(this.#log, 'error', { [F.code]: AUDIT_ERROR.destinationFailed, [F.err]: err }, 'audit destination could not be reopened');
    }
  }

  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#stopChain();
    this.#batch?.writeNow();
    this.#closing = this.#file ? this.#endFile() : Promise.resolve();
    return this.#closing;
  }

  position(): AuditChainPosition {
    return { chain: this.#chain.id, seq: this.#chain.seq, hash: this.#chain.lastHash };
  }

  #endFile(): Promise<void> {
    return new Promise<void>((resolve) => {
      // A file that never opened has nothing to flush, and its stream would wait forever for 'ready'.
      if (this.#failed && !this.#opened) {
        resolve();
        return;
      }
      this.#stream.once('close', () => resolve());
      this.#stream.once('error', () => resolve());
      try {
        this.#stream.end();
      } catch {
        resolve(); // already destroyed
      }
    });
  }

  /**
   * The file's stream: synchronous and opened now unless `sync: false`. A file that cannot be opened
   * never throws: the process keeps running and the failure is logged (below).
   */
  #openFile(target: string): SonicBoom {
    // maxLength bounds both: a synchronous stream buffers only what failed to write (a full disk,
    // an I/O error), and drops past the bound rather than growing without end.
    const file = { dest: target, mkdir: true, append: true, maxLength: AUDIT_MAX_BUFFERED_BYTES };
    const asynchronous = (): SonicBoom => pino.destination({ ...file, sync: false });
    if (!this.#sync) return asynchronous();
    try {
      return pino.destination({ ...file, sync: true });
    } catch {
      // Cannot be opened now: an asynchronous stream on the same path reports the same error once
      // (#watchStream), drops what is written meanwhile, and reopen() on SIGHUP can recover it.
      return asynchronous();
    }
  }

  #watchStream(): void {
    this.#stream.on('ready', () => {
      this.#opened = true;
    });
    // Without a listener an 'error' event would crash the process.
    this.#stream.on('error', (err: unknown) => {
      this.#failed = true;
      safeLog(this.#log, 'error', { [F.code]: AUDIT_ERROR.destinationFailed, [F.err]: err }, 'audit destination failed');
    });
    this.#stream.on('drop', (lines: unknown) => {
      const before = this.#dropped;
      this.#dropped += this.#lost.dropped(String(lines));
      if (this.#dropped === before) return; // a checkpoint line alone
      // The first drop, then each time the count passes another DROP_REPORT_EVERY.
      if (before === 0 || Math.floor(before / DROP_REPORT_EVERY) !== Math.floor(this.#dropped / DROP_REPORT_EVERY)) {
        const fields = { [F.code]: AUDIT_ERROR.recordsDropped, dropped: this.#dropped };
        safeLog(this.#log, 'warn', fields, 'audit destination is not keeping up; records dropped');
      }
    });
  }

  #seal(line: string): string {
    try {
      return this.#chain.seal(line);
    } catch (err: unknown) {
      // Written unsealed: verify reports the line, which is better than losing the record.
      safeLog(this.#log, 'error', { [F.code]: AUDIT_ERROR.writeFailed, [F.err]: err }, 'audit record could not be sealed');
      return line;
    }
  }

  /** Writes a checkpoint when one is due; straight to the destination, already sealed. */
  #writeCheckpoint(): void {
    if (this.#closing !== null || (this.#failed && !this.#opened)) return;
    try {
      const line = this.#chain.checkpoint();
      if (line !== null) this.#emit(line);
    } catch (err: unknown) {
      safeLog(this.#log, 'error', { [F.code]: AUDIT_ERROR.writeFailed, [F.err]: err }, 'audit checkpoint write failed');
    }
  }

  /** Stops the checkpoint timer and writes a last checkpoint covering everything written. */
  #stopChain(): void {
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
    this.#writeCheckpoint();
  }
}
