import { Transform, type TransformCallback } from 'node:stream';

/** Give up looking for the first event after this many bytes and pass everything through. */
const MAX_FIRST_EVENT_BYTES = 16 * 1024;

/**
 * Rewrites the URL in a legacy (2024-11-05) HTTP+SSE stream's first `event: endpoint` so that the
 * client's POSTs come back through the gateway to the same upstream and session. Only the first
 * event is examined; everything after it passes through untouched, chunk by chunk.
 */
export class SseEndpointRewriter extends Transform {
  private head: Buffer | null = Buffer.alloc(0);

  constructor(private readonly rewrite: (endpoint: string) => string | null) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.head === null) return cb(null, chunk);
    this.head = Buffer.concat([this.head, chunk]);
    this.passLeadingCommentLines();
    const text = this.head.toString('latin1');
    const end = /\r\n\r\n|\n\n|\r\r/.exec(text);
    if (!end) {
      if (this.head.length > MAX_FIRST_EVENT_BYTES) this.passThrough();
      return cb();
    }
    const cut = end.index + end[0].length;
    const first = this.head.subarray(0, cut).toString('utf8');
    const rest = this.head.subarray(cut);
    this.head = null;
    this.push(Buffer.from(this.rewriteEvent(first), 'utf8'));
    if (rest.length > 0) this.push(rest);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (this.head && this.head.length > 0) this.push(this.head);
    this.head = null;
    cb();
  }

  /**
   * Comment lines (keep-alives) and blank lines before the first event's fields are complete in
   * themselves and can never be part of the `endpoint` event: pass them on at once, instead of
   * holding them until the first event ends (a server that sends only keep-alives would otherwise
   * send the client nothing at all), and keep looking for the `endpoint` event after them.
   */
  private passLeadingCommentLines(): void {
    const head = this.head;
    if (head === null) return;
    let at = 0;
    while (at < head.length && (head[at] === 0x3a /* : */ || head[at] === 0x0a || head[at] === 0x0d)) {
      let end = at;
      while (end < head.length && head[end] !== 0x0a && head[end] !== 0x0d) end++;
      if (end === head.length) break; // the line is not complete yet
      if (head[end] === 0x0d) {
        if (end + 1 === head.length) break; // a CR that may be the first half of CRLF
        end += head[end + 1] === 0x0a ? 2 : 1;
      } else {
        end += 1;
      }
      at = end;
    }
    if (at === 0) return;
    this.push(head.subarray(0, at));
    this.head = head.subarray(at);
  }

  private passThrough(): void {
    if (this.head && this.head.length > 0) this.push(this.head);
    this.head = null;
  }

  private rewriteEvent(block: string): string {
    const lines = block.split(/\r\n|\n|\r/);
    const isEndpoint = lines.some((l) => /^event:\s?endpoint$/.test(l));
    if (!isEndpoint) return block;
    const dataLines = lines.filter((l) => l.startsWith('data:'));
    if (dataLines.length !== 1) return block;
    const value = dataLines[0]!.replace(/^data:\s?/, '');
    const mapped = this.rewrite(value);
    if (mapped === null) return block;
    return block.replace(dataLines[0]!, `data: ${mapped}`);
  }
}
