import { isUtf8 } from 'node:buffer';
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { encodeBody, type EventBase, type HeaderPairs, type WireRecord } from './format';
import { LineOut } from './line-out';
import type { Redactor } from './redact';
import type { RingSlice } from './ring';
import { SseByteParser } from './sse-bytes';

/** What a tap put in the queue (copied, so the traffic path owns nothing of it afterwards). */
export type QueueItem = ItemMeta & ItemBody;

/** Where and when an item happened. */
export interface ItemMeta {
  x: string;
  server: string;
  session: string | null;
  t: number;
  size?: number;
  /** Events of this exchange were dropped just before this one (an SSE parser must restart). */
  lossy?: boolean;
}

/** What happened. */
export type ItemBody =
  | { kind: 'request-head'; method: string; path: string; headers: HeaderPairs }
  /** `ring`: the bytes are in the writer thread's ring (`bytes` is empty until the thread reads them). */
  | { kind: 'request-chunk' | 'response-chunk'; bytes: Buffer; ring?: RingSlice }
  | { kind: 'response-head'; status: number; headers: HeaderPairs }
  | { kind: 'sse-event'; event: { id?: string; event?: string; data: string; retry?: number } }
  | { kind: 'end' }
  | { kind: 'reset'; reason: string }
  | { kind: 'drop'; events: number; bytes: number };

interface ExchangeState {
  session: string | null;
  req: Buffer[];
  reqBytes: number;
  reqStreaming: boolean;
  res: Buffer[];
  resBytes: number;
  resStreaming: boolean;
  sse: SseState | undefined;
}

/** An SSE response's parser: on bytes (D94), or on decoded text where redaction must read the text. */
type SseState = { parser: EventSourceParser; decoder: StringDecoder; bytes?: undefined } | { bytes: SseByteParser };

/** Encoder options beyond the recording's own. */
export interface EncoderOptions {
  /**
   * Parse SSE on bytes and escape event data straight into the output (default true; used only when
   * no redaction reads body text: JSON Pointers and patterns need the decoded text). False: the
   * string parser, which the byte parser must match line for line (the differential test).
   */
  byteSse?: boolean;
}

function headerValue(h: HeaderPairs, name: string): string | undefined {
  return h.find(([n]) => n.toLowerCase() === name)?.[1];
}

/**
 * Turns queue items into JSON lines: assigns `seq`, redacts, coalesces small bodies into one `whole`
 * record, and parses SSE responses into one record per event. Runs on the writer's side only.
 */
export class LineEncoder {
  private seq = 0;
  private events = 0;
  private bytes = 0;
  private readonly state = new Map<string, ExchangeState>();
  private readonly byteSse: boolean;
  /** Where the item being encoded writes its lines. */
  private out: LineOut | undefined;

  constructor(
    private readonly redactor: Redactor,
    private readonly smallBody: number,
    options: EncoderOptions = {},
  ) {
    this.byteSse = options.byteSse !== false && !redactor.readsBodyText;
  }

  counts(): { events: number; bytes: number } {
    return { events: this.events, bytes: this.bytes };
  }

  nextSeq(): number {
    return this.seq++;
  }

  /**
   * Appends the lines (possibly none, possibly several, each ending in `\n`) that one queue item
   * produces to `out`. The writer packs a batch into one reused buffer: a batch joined into one
   * ~256 KiB string, then copied into a fresh Buffer, lands in V8's large-object space and brings on
   * major GCs on the thread that encodes (D73); SSE event data goes there as bytes (D94).
   */
  encodeInto(it: QueueItem, out: LineOut): void {
    this.out = out;
    try {
      this.encodeItem(it);
    } finally {
      this.out = undefined;
    }
  }

  /** The lines of one item as text (tests). */
  encodeText(it: QueueItem): string {
    const out = new LineOut(64 * 1024);
    this.encodeInto(it, out);
    return out.take().toString('utf8');
  }

  private encodeItem(it: QueueItem): void {
    // A drop record is not one of the recorded events the footer counts.
    if (it.kind === 'drop') return this.out!.string(JSON.stringify({ type: 'drop', seq: this.seq++, t: r(it.t), events: it.events, bytes: it.bytes }) + '\n');
    const st = this.exchangeState(it);
    this.current = { it, st };
    const base = this.base;
    switch (it.kind) {
      case 'request-head': {
        const marks: string[] = [];
        const headers = this.redactor.headerPairs(it.headers, marks);
        const path = this.redactor.path(it.path, marks);
        this.emit({ type: 'request-head', ...base('c2s', marks), method: it.method, path, headers });
        break;
      }
      case 'request-chunk':
        st.req.push(it.bytes);
        st.reqBytes += it.bytes.length;
        if (st.reqStreaming || st.reqBytes > this.smallBody) this.flushBody(st, 'request', false);
        break;
      case 'response-head': {
        this.flushBody(st, 'request', !st.reqStreaming);
        const sid = headerValue(it.headers, 'mcp-session-id');
        if (st.session === null && sid !== undefined) st.session = sid;
        const marks: string[] = [];
        const headers = this.redactor.headerPairs(it.headers, marks);
        this.emit({ type: 'response-head', ...base('s2c', marks), status: it.status, headers });
        if ((headerValue(it.headers, 'content-type') ?? '').toLowerCase().startsWith('text/event-stream')) {
          st.sse = this.byteSse ? { bytes: this.sseByteParser(st) } : this.sseParser();
        }
        break;
      }
      case 'response-chunk':
        this.responseChunk(st, it.bytes, it.lossy === true);
        break;
      case 'sse-event': {
        const marks: string[] = [];
        const data = this.redactor.json(it.event.data, marks);
        this.emit({ type: 'sse', ...base('s2c', marks), ...it.event, data });
        break;
      }
      case 'end':
      case 'reset':
        this.flushBody(st, 'request', !st.reqStreaming);
        if (st.sse?.bytes !== undefined) st.sse.bytes.reset(true);
        else if (st.sse !== undefined) st.sse.parser.reset({ consume: true });
        else this.flushBody(st, 'response', !st.resStreaming);
        this.emit({ type: it.kind, ...base('s2c', []), ...(it.kind === 'reset' ? { reason: it.reason } : {}) });
        this.state.delete(it.x);
        break;
    }
  }

  /** Appends one record's line. */
  private emit(rec: WireRecord | object): void {
    const out = this.out!;
    const before = out.length;
    out.string(JSON.stringify(rec));
    out.string('\n');
    this.counted(before);
  }

  /** Counts the line appended since the output held `before` bytes: one event, its UTF-8 bytes (the footer's counts). */
  private counted(before: number): void {
    this.events++;
    this.bytes += this.out!.length - before;
  }

  private exchangeState(it: QueueItem): ExchangeState {
    let st = this.state.get(it.x);
    if (st === undefined) {
      st = { session: it.session, req: [], reqBytes: 0, reqStreaming: false, res: [], resBytes: 0, resStreaming: false, sse: undefined };
      this.state.set(it.x, st);
    }
    return st;
  }

  private responseChunk(st: ExchangeState, bytes: Buffer, lossy: boolean): void {
    const sse = st.sse;
    if (sse?.bytes !== undefined) {
      // After a drop the parser's half-read event is garbage: start over at the next event boundary.
      if (lossy) sse.bytes.reset(false);
      sse.bytes.feed(bytes);
      return;
    }
    if (sse !== undefined) {
      if (lossy) sse.parser.reset({ consume: false });
      sse.parser.feed(sse.decoder.write(bytes));
      return;
    }
    st.res.push(bytes);
    st.resBytes += bytes.length;
    if (st.resStreaming || st.resBytes > this.smallBody) this.flushBody(st, 'response', false);
  }

  /**
   * The byte parser: an event whose data is valid UTF-8 is written as its record's JSON with the
   * data escaped from the bytes (the same line JSON.stringify gives); anything else takes the
   * record path.
   */
  private sseByteParser(st: ExchangeState): SseByteParser {
    // What every event record of this exchange repeats after `seq` and `t` (base()'s members).
    let members: string | undefined;
    return new SseByteParser({
      event: (id, type, buf, start, end, utf8) => {
        if (!utf8 && !isUtf8(buf.subarray(start, end))) {
          const fields = { ...(id === undefined ? {} : { id }), ...(type === undefined ? {} : { event: type }) };
          return this.emit({ type: 'sse', ...this.base('s2c', []), ...fields, data: buf.toString('utf8', start, end) });
        }
        const c = this.current!;
        members ??= `,"x":${JSON.stringify(c.it.x)},"server":${JSON.stringify(c.it.server)},"session":${JSON.stringify(st.session)},"dir":"s2c"`;
        let head = `{"type":"sse","seq":${this.seq++},"t":${r(c.it.t)}${members}`;
        if (id !== undefined) head += `,"id":${JSON.stringify(id)}`;
        if (type !== undefined) head += `,"event":${JSON.stringify(type)}`;
        const before = this.out!.length;
        this.out!.recordEndingInString(head + ',"data":', buf, start, end);
        this.counted(before);
      },
      retry: (retry) => this.emit({ type: 'sse', ...this.base('s2c', []), retry }),
      comment: (comment) => this.emit({ type: 'sse', ...this.base('s2c', []), comment }),
    });
  }

  /** An SSE parser whose callbacks (synchronous inside feed) append to the item being encoded. */
  private sseParser(): ExchangeState['sse'] {
    const emit = (fields: { id?: string; event?: string; data?: string; retry?: number; comment?: string }): void => {
      const marks: string[] = [];
      const data = fields.data === undefined ? undefined : this.redactor.json(fields.data, marks);
      this.emit({ type: 'sse', ...this.base('s2c', marks), ...fields, ...(data === undefined ? {} : { data }) });
    };
    const parser = createParser({
      onEvent: (e) =>
        emit({ ...(e.id === undefined ? {} : { id: e.id }), ...(e.event === undefined ? {} : { event: e.event }), data: e.data }),
      onRetry: (retry) => emit({ retry }),
      onComment: (comment) => emit({ comment }),
    });
    return { parser, decoder: new StringDecoder('utf8') };
  }

  /** The item being encoded: SSE parser callbacks (synchronous inside feed) write through it. */
  private current: { it: QueueItem; st: ExchangeState } | undefined;

  private readonly base = (dir: 'c2s' | 's2c', marks: string[]): EventBase => {
    const c = this.current!;
    return {
      seq: this.seq++,
      t: r(c.it.t),
      x: c.it.x,
      server: c.it.server,
      session: c.st.session,
      dir,
      ...(marks.length > 0 ? { redacted: [...new Set(marks)] } : {}),
    };
  };

  private flushBody(st: ExchangeState, which: 'request' | 'response', whole: boolean): void {
    const chunks = which === 'request' ? st.req : st.res;
    if (chunks.length === 0) return;
    const bytes = Buffer.concat(chunks);
    chunks.length = 0;
    if (which === 'request') st.reqStreaming = !whole;
    else st.resStreaming = !whole;
    const marks: string[] = [];
    let body = encodeBody(bytes);
    if ('text' in body) body = { text: whole ? this.redactor.json(body.text, marks) : this.redactor.text(body.text, marks) };
    this.emit({ type: which === 'request' ? 'request-body' : 'response-body', ...this.base(which === 'request' ? 'c2s' : 's2c', marks), body, whole });
  }
}

function r(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
