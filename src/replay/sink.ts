import { open, type FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';

/**
 * An append-only JSON Lines file with a size cap: past `maxBytes` it writes the footer that names
 * the next part (`FILE.1`, `FILE.2`, …), opens that part and writes a fresh header there. Each
 * `write` is whole lines, so the file reads up to its last complete line whatever kills the process.
 */
export class RotatingSink {
  private handle: FileHandle | undefined;
  private bytes = 0;
  private headerBytes = 0;
  private part = 1;

  private constructor(
    private readonly file: string,
    private readonly maxBytes: number,
    private readonly header: (part: number) => string,
    private readonly footer: (next: string | undefined) => string,
  ) {}

  /** Opens (appending) the first part and writes its header line. Rejects on an I/O error. */
  static async open(
    file: string,
    maxBytes: number,
    header: (part: number) => string,
    footer: (next: string | undefined) => string,
  ): Promise<RotatingSink> {
    const sink = new RotatingSink(file, maxBytes, header, footer);
    await sink.openPart();
    return sink;
  }

  /** The path of part `n` (1 is the configured file). */
  static partPath(file: string, n: number): string {
    return n === 1 ? file : `${file}.${n - 1}`;
  }

  /**
   * Appends whole lines (each ending in `\n`), UTF-8; rotates first when they would pass the cap.
   * The caller may reuse `buf` once the returned promise settles.
   */
  async write(buf: Buffer): Promise<void> {
    if (this.bytes + buf.length > this.maxBytes && this.bytes > this.headerBytes) await this.rotate();
    await this.append(buf);
  }

  /** Writes the footer and closes the file. */
  async close(): Promise<void> {
    if (this.handle === undefined) return;
    await this.append(Buffer.from(this.footer(undefined), 'utf8'));
    const h = this.handle;
    this.handle = undefined;
    await h.close();
  }

  private async rotate(): Promise<void> {
    const next = RotatingSink.partPath(this.file, this.part + 1);
    await this.append(Buffer.from(this.footer(basename(next)), 'utf8'));
    await this.handle?.close();
    this.part += 1;
    await this.openPart();
  }

  private async openPart(): Promise<void> {
    // Owner-only: a recording holds request and response bodies even after redaction.
    this.handle = await open(RotatingSink.partPath(this.file, this.part), 'a', 0o600);
    this.bytes = (await this.handle.stat()).size;
    const head = Buffer.from(this.header(this.part), 'utf8');
    await this.append(head);
    this.headerBytes = this.bytes;
  }

  private async append(buf: Buffer): Promise<void> {
    if (this.handle === undefined) return;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.handle.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    this.bytes += buf.length;
  }
}
