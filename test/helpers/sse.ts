/** A dispatched SSE event, fields as the spec's parser sees them. */
export interface SseEvent {
  type: 'event';
  /** Last `id:` field of the block, if any. */
  id?: string;
  /** `event:` field, if any (absent means `message`). */
  event?: string;
  /** `data:` lines joined with `\n`; `''` for a priming event (`data:` with nothing after it). */
  data: string;
  /** Whether the block had at least one `data:` line. */
  hasData: boolean;
  /** `retry:` field, when it was a valid integer. */
  retry?: number;
  /** The block's lines as received (CRLF/CR normalised to LF), without the blank terminator line. */
  raw: string;
  /** `Date.now()` when the block's terminating blank line arrived. */
  receivedAt: number;
}

/** A comment line (`: keepalive`), reported where it occurred. */
export interface SseComment {
  type: 'comment';
  /** Text after the colon, one leading space removed. */
  text: string;
  receivedAt: number;
}

export type SseItem = SseEvent | SseComment;

/**
 * Incremental SSE parser (WHATWG "event stream interpretation"), kept literal for tests: it also
 * reports comments, and blocks with only `id:`/`retry:` fields, which a browser would not dispatch.
 */
export class SseParser {
  private buffer = '';
  private lines: string[] = [];
  private first = true;
  private pendingCr = false;

  /** Feeds text; returns the items completed by it. */
  push(chunk: string): SseItem[] {
    let text = chunk;
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A CR at the end of the previous chunk may be the first half of a CRLF.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = text.endsWith('\r');
    this.buffer += text;
    const out: SseItem[] = [];
    const parts = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = parts.pop() ?? '';
    for (const line of parts) this.line(line, out);
    return out;
  }

  /** Ends the stream: an unterminated block is discarded, as the spec says. */
  end(): SseItem[] {
    const out: SseItem[] = [];
    if (this.buffer.length > 0) this.line(this.buffer, out);
    this.buffer = '';
    this.lines = [];
    return out;
  }

  private line(line: string, out: SseItem[]): void {
    if (line === '') {
      if (this.lines.length > 0) out.push(this.dispatch());
      return;
    }
    if (line.startsWith(':')) {
      out.push({ type: 'comment', text: line.slice(1).replace(/^ /, ''), receivedAt: Date.now() });
      return;
    }
    this.lines.push(line);
  }

  private dispatch(): SseEvent {
    const event: SseEvent = { type: 'event', data: '', hasData: false, raw: this.lines.join('\n'), receivedAt: Date.now() };
    const data: string[] = [];
    for (const line of this.lines) {
      const colon = line.indexOf(':');
      const name = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'data') data.push(value);
      else if (name === 'id' && !value.includes('\0')) event.id = value;
      else if (name === 'event') event.event = value;
      else if (name === 'retry' && /^\d+$/.test(value)) event.retry = Number(value);
    }
    event.hasData = data.length > 0;
    event.data = data.join('\n');
    this.lines = [];
    return event;
  }
}

export type SseSource = Response | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>;

interface ChunkReader {
  /** Next chunk, or undefined at the end. */
  read(): Promise<Uint8Array | string | undefined>;
  /** Stops reading and releases the body; a pending read() then resolves undefined. */
  cancel(): Promise<void>;
}

function chunkReader(source: SseSource): ChunkReader {
  const stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string> | null =
    source instanceof Response ? source.body : source;
  if (stream === null) return { read: async () => undefined, cancel: async () => undefined };
  if ('getReader' in stream) {
    const reader: ReadableStreamDefaultReader<Uint8Array> = stream.getReader();
    return {
      read: async () => {
        const { done, value } = await reader.read();
        return done ? undefined : value;
      },
      cancel: () => reader.cancel().catch(() => undefined),
    };
  }
  const iterator = stream[Symbol.asyncIterator]();
  return {
    read: async () => {
      const next = await iterator.next();
      if (next.done === true) return undefined;
      return next.value;
    },
    cancel: async () => {
      await iterator.return?.();
    },
  };
}

/**
 * Yields SSE items (events and comments) as they arrive. Breaking out of the loop cancels the
 * response body.
 */
export async function* sseItems(source: SseSource): AsyncGenerator<SseItem> {
  const reader = chunkReader(source);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  try {
    for (let chunk = await reader.read(); chunk !== undefined; chunk = await reader.read()) {
      yield* parser.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    }
    yield* parser.push(decoder.decode());
    yield* parser.end();
  } finally {
    await reader.cancel();
  }
}

export interface ReadSseOptions {
  /** Also return comment lines; default false (events only). */
  includeComments?: boolean;
  /** Stop (and cancel the body) once this returns true for an item just added. */
  until?: (item: SseItem, items: SseItem[]) => boolean;
  /** Stop after this many returned items. */
  max?: number;
  /** Reject (and cancel the body) if the stream has not ended or stopped by then; default 10000 ms. */
  timeoutMs?: number;
}

/**
 * Reads an SSE response to its end (or until `until`/`max`) and returns its events, plus comments
 * with `includeComments`. Stopping early or timing out cancels the body.
 *
 * @throws Error on timeout, or when the stream fails.
 */
export async function readSseEvents(source: SseSource, opts: ReadSseOptions & { includeComments: true }): Promise<SseItem[]>;
export async function readSseEvents(source: SseSource, opts?: ReadSseOptions): Promise<SseEvent[]>;
export async function readSseEvents(source: SseSource, opts: ReadSseOptions = {}): Promise<SseItem[]> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const reader = chunkReader(source);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const items: SseItem[] = [];
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void reader.cancel();
  }, timeoutMs);
  // True once the caller's stop condition is met.
  const take = (batch: SseItem[]): boolean => {
    for (const item of batch) {
      if (item.type === 'comment' && opts.includeComments !== true) continue;
      items.push(item);
      if (opts.until?.(item, items) === true || (opts.max !== undefined && items.length >= opts.max)) return true;
    }
    return false;
  };
  try {
    for (;;) {
      const chunk = await reader.read();
      if (timedOut) throw new Error(`readSseEvents: no end after ${timeoutMs} ms (${items.length} items read)`);
      if (chunk === undefined) {
        take([...parser.push(decoder.decode()), ...parser.end()]);
        return items;
      }
      if (take(parser.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })))) {
        return items;
      }
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel();
  }
}
