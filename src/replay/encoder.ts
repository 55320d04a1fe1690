import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceParser } from 'eventsource-parser';
import { encodeBody, type EventBase, type HeaderPairs, type WireRecord } from './format';
import type { Redactor } from './redact';
import type { RingSlice } from './ring';

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
  sse: { parser: EventSourceParser; decoder: StringDecoder } | undefined;
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

  constructor(
    private readonly redactor: Redactor,
    private readonly smallBody: number,
  ) {}

  counts(): { events: number; bytes: number } {
    return { events: this.events, bytes: this.bytes };
  }

  nextSeq(): number {
    return this.seq++;
  }

  /**
   * The lines (possibly none, possibly several) that one queue item produces, one string each (each
   * ends in `\n`). The writer packs them into a reused buffer instead of joining them: a batch
   * joined into one ~256 KiB string, then copied into a fresh Buffer, lands in V8's large-object
   * space and brings on major GCs on the thread that encodes (D73).
   */
  encodeLines(it: QueueItem): string[] {
    if (it.kind === 'drop') return [line({ type: 'drop', seq: this.seq++, t: r(it.t), events: it.events, bytes: it.bytes })];
    const st = this.exchangeState(it);
    const out: WireRecord[] = [];
    this.current = { it, st, out };
    const base = this.base;
    switch (it.kind) {
      case 'request-head': {
        const marks: string[] = [];
        const headers = this.redactor.headerPairs(it.headers, marks);
        const path = this.redactor.path(it.path, marks);
        out.push({ type: 'request-head', ...base('c2s', marks), method: it.method, path, headers });
        break;
      }
      case 'request-chunk':
        st.req.push(it.bytes);
        st.reqBytes += it.bytes.length;
        if (st.reqStreaming || st.reqBytes > this.smallBody) this.flushBody(st, 'request', false, base, out);
        break;
      case 'response-head': {
        this.flushBody(st, 'request', !st.reqStreaming, base, out);
        const sid = headerValue(it.headers, 'mcp-session-id');
        if (st.session === null && sid !== undefined) st.session = sid;
        const marks: string[] = [];
        const headers = this.redactor.headerPairs(it.headers, marks);
        out.push({ type: 'response-head', ...base('s2c', marks), status: it.status, headers });
        if ((headerValue(it.headers, 'content-type') ?? '').toLowerCase().startsWith('text/event-stream')) {
          st.sse = this.sseParser();
        }
        break;
      }
      case 'response-chunk':
        this.responseChunk(st, it.bytes, it.lossy === true, out);
        break;
      case 'sse-event': {
        const marks: string[] = [];
        const data = this.redactor.json(it.event.data, marks);
        out.push({ type: 'sse', ...base('s2c', marks), ...it.event, data });
        break;
      }
      case 'end':
      case 'reset':
        this.flushBody(st, 'request', !st.reqStreaming, base, out);
        if (st.sse !== undefined) st.sse.parser.reset({ consume: true });
        else this.flushBody(st, 'response', !st.resStreaming, base, out);
        out.push({ type: it.kind, ...base('s2c', []), ...(it.kind === 'reset' ? { reason: it.reason } : {}) });
        this.state.delete(it.x);
        break;
    }
    this.events += out.length;
    const lines = out.map(line);
    for (const l of lines) this.bytes += l.length;
    return lines;
  }

  private exchangeState(it: QueueItem): ExchangeState {
    let st = this.state.get(it.x);
    if (st === undefined) {
      st = { session: it.session, req: [], reqBytes: 0, reqStreaming: false, res: [], resBytes: 0, resStreaming: false, sse: undefined };
      this.state.set(it.x, st);
    }
    return st;
  }

  private responseChunk(st: ExchangeState, bytes: Buffer, lossy: boolean, out: WireRecord[]): void {
    if (st.sse !== undefined) {
      // After a drop the parser's half-read event is garbage: start over at the next event boundary.
      if (lossy) st.sse.parser.reset({ consume: false });
      st.sse.parser.feed(st.sse.decoder.write(bytes));
      return;
    }
    st.res.push(bytes);
    st.resBytes += bytes.length;
    if (st.resStreaming || st.resBytes > this.smallBody) this.flushBody(st, 'response', false, this.base, out);
  }

  /** An SSE parser whose callbacks (synchronous inside feed) append to the item being encoded. */
  private sseParser(): ExchangeState['sse'] {
    const emit = (fields: { id?: string; event?: string; data?: string; retry?: number; comment?: string }): void => {
      const marks: string[] = [];
      const data = fields.data === undefined ? undefined : this.redactor.json(fields.data, marks);
      this.current!.out.push({ type: 'sse', ...this.base('s2c', marks), ...fields, ...(data === undefined ? {} : { data }) });
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
  private current: { it: QueueItem; st: ExchangeState; out: WireRecord[] } | undefined;

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

  private flushBody(
    st: ExchangeState,
    which: 'request' | 'response',
    whole: boolean,
    base: (dir: 'c2s' | 's2c', marks: string[]) => EventBase,
    out: WireRecord[],
  ): void {
    const chunks = which === 'request' ? st.req : st.res;
    if (chunks.length === 0) return;
    const bytes = Buffer.concat(chunks);
    chunks.length = 0;
    if (which === 'request') st.reqStreaming = !whole;
    else st.resStreaming = !whole;
    const marks: string[] = [];
    let body = encodeBody(bytes);
    if ('text' in body) body = { text: whole ? this.redactor.json(body.text, marks) : this.redactor.text(body.text, marks) };
    out.push({ type: which === 'request' ? 'request-body' : 'response-body', ...base(which === 'request' ? 'c2s' : 's2c', marks), body, whole });
  }
}

function line(rec: object): string {
  return JSON.stringify(rec) + '\n';
}

function r(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
