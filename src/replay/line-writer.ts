import { LineEncoder, type QueueItem } from './encoder';
import { LineOut } from './line-out';
import { FORMAT_NAME, FORMAT_VERSION, type HeaderRecord, type RecorderInfo } from './format';
import { Redactor, type RedactionOptions } from './redact';
import type { ByteRing } from './ring';
import { RotatingSink } from './sink';

/** What the writer needs to open a recording (plain data: it crosses to the writer thread). */
export interface WriterInit {
  file: string;
  side: RecorderInfo['side'];
  version: string;
  startedAt: string;
  maxFileBytes: number;
  smallBodyBytes: number;
  redaction: RedactionOptions | undefined;
}

/** The recorder's counters the footer reports; `t` is the recorder's clock at that moment. */
export interface FooterCounters {
  t: number;
  exchanges: number;
  droppedEvents: number;
  droppedBytes: number;
}

/** Encodes queue items into lines and appends them (the recorder's writer: inline or in a worker thread). */
export interface RecordingWriter {
  /**
   * Takes items. Inline: encodes and writes them, resolving when they are on disk. Thread: hands them
   * to the worker (which encodes at the destination's pace) and resolves at once; they count in
   * {@link pending} until the worker reports them written.
   */
  write(items: QueueItem[], counters: FooterCounters): Promise<void>;
  /**
   * Items taken by `write` and not yet written, with their queue sizes (part of the recorder's bound).
   * The writer's own live counts, read on every chunk a tap offers: read them, never keep or change them.
   */
  pending(): Readonly<{ events: number; bytes: number }>;
  /** Resolves when everything taken so far is written. */
  flush(): Promise<void>;
  /** Where chunk bytes go (thread writer): the recorder copies them in instead of allocating a copy. */
  readonly ring?: ByteRing;
  /** Writes the footer and closes the file. */
  close(counters: FooterCounters): Promise<void>;
  /** Events and bytes written so far. */
  counts(): { events: number; bytes: number };
}

/** The inline writer holds nothing once `write` has resolved. */
const NOTHING_PENDING: Readonly<{ events: number; bytes: number }> = Object.freeze({ events: 0, bytes: 0 });

/** The writer's line buffer: one paced batch (~256 KiB raw) encodes to about this much. */
const SCRATCH_BYTES = 512 * 1024;
/** Lines are written out once this much is packed (an item's lines always go whole into one write). */
const WRITE_AT = 256 * 1024;

/** The writer proper: a {@link LineEncoder} in front of a {@link RotatingSink}. */
export class LineWriter implements RecordingWriter {
  private counters: FooterCounters = { t: 0, exchanges: 0, droppedEvents: 0, droppedBytes: 0 };
  private sink: RotatingSink | undefined;
  /** Where {@link write} packs encoded lines; reused once each file write is done. */
  private readonly out = new LineOut(SCRATCH_BYTES);

  private constructor(private readonly encoder: LineEncoder) {}

  /** Opens (appending) the first part and writes its header. Rejects with the I/O error. */
  static async open(init: WriterInit): Promise<LineWriter> {
    const redactor = new Redactor(init.redaction);
    const w = new LineWriter(new LineEncoder(redactor, init.smallBodyBytes));
    const header = (part: number): string => {
      const h: HeaderRecord = {
        type: 'header',
        format: FORMAT_NAME,
        version: FORMAT_VERSION,
        recorder: { name: 'mcp-tunnel', version: init.version, side: init.side },
        startedAt: init.startedAt,
        part,
        redaction: redactor.info,
      };
      return JSON.stringify(h) + '\n';
    };
    w.sink = await RotatingSink.open(init.file, init.maxFileBytes, header, (next) => w.footerLine(next));
    return w;
  }

  /**
   * Encodes the items into one reused buffer and appends it (whole lines per file write; the buffer
   * is written out past {@link WRITE_AT} and reused once the write is done). No batch-sized string or
   * Buffer is allocated per batch (D73).
   */
  async write(items: QueueItem[], counters: FooterCounters): Promise<void> {
    this.counters = counters;
    for (const it of items) {
      this.encoder.encodeInto(it, this.out);
      if (this.out.length >= WRITE_AT) await this.writeOut();
    }
    await this.writeOut();
  }

  private async writeOut(): Promise<void> {
    if (this.out.length === 0) return;
    await this.sink?.write(this.out.take());
  }

  async close(counters: FooterCounters): Promise<void> {
    this.counters = counters;
    await this.sink?.close();
  }

  pending(): Readonly<{ events: number; bytes: number }> {
    return NOTHING_PENDING;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  counts(): { events: number; bytes: number } {
    return this.encoder.counts();
  }

  private footerLine(next: string | undefined): string {
    const c = this.encoder.counts();
    const footer = {
      type: 'footer',
      seq: this.encoder.nextSeq(),
      t: Math.round(this.counters.t * 1000) / 1000,
      endedAt: new Date().toISOString(),
      counts: { exchanges: this.counters.exchanges, events: c.events, bytes: c.bytes },
      dropped: { events: this.counters.droppedEvents, bytes: this.counters.droppedBytes },
      ...(next === undefined ? {} : { next }),
    };
    return JSON.stringify(footer) + '\n';
  }
}
