import { Transform, type TransformCallback } from 'node:stream';

/** Largest response body (JSON) or single SSE event the tools/list filter holds; more fails closed. */
export const MAX_FILTERED_BYTES = 8 * 1024 * 1024;

/** Thrown (JSON) or emitted (SSE) when a tools/list response cannot be filtered within the bound. */
export class ToolsFilterError extends Error {
  readonly code = 'TUNNEL_POLICY_FILTER_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'ToolsFilterError';
  }
}

type JsonRpcId = string | number;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Removes from a JSON-RPC response (or a batch of them) whose `id` is in `ids` (any id when `ids`
 * is null) every entry of `result.tools` whose `name` is not allowed. Entries without a string name
 * are removed as well (fail closed). Returns null when nothing matched, so the caller can keep the
 * original bytes.
 */
export function filterToolsMessage(message: unknown, ids: ReadonlySet<JsonRpcId> | null, allowed: (tool: string) => boolean): unknown {
  if (Array.isArray(message)) {
    let changed = false;
    const out = (message as unknown[]).map((m): unknown => {
      const f = filterToolsMessage(m, ids, allowed);
      if (f === null) return m;
      changed = true;
      return f;
    });
    return changed ? out : null;
  }
  if (!isObject(message)) return null;
  const id = message.id;
  if ((typeof id !== 'string' && typeof id !== 'number') || (ids !== null && !ids.has(id))) return null;
  const result = message.result;
  if (!isObject(result) || !Array.isArray(result.tools)) return null;
  const tools = result.tools.filter((t: unknown) => isObject(t) && typeof t.name === 'string' && allowed(t.name));
  return { ...message, result: { ...result, tools } };
}

/**
 * Filters a whole `application/json` response body. Returns the new bytes, or the same buffer when
 * it held no matching response (or was not JSON: a client cannot read a tool list from it either).
 */
export function filterToolsJsonBody(body: Buffer, ids: ReadonlySet<JsonRpcId> | null, allowed: (tool: string) => boolean): Buffer {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return body;
  }
  const filtered = filterToolsMessage(value, ids, allowed);
  return filtered === null ? body : Buffer.from(JSON.stringify(filtered), 'utf8');
}

const EVENT_END = /\r\n\r\n|\n\n|\r\r|\r\n\r(?!\n)|\n\r\n|\r\n\n|\n\r(?!\n)/;

/**
 * Filters `result.tools` in every SSE `message` event that carries a response to one of the
 * `tools/list` requests (`ids`), for the whole life of the stream: a batch answered on one stream
 * carries several, and an upstream may send more than one event per id. Every other event —
 * progress and log notifications, server requests, comments (keep-alives), priming events — is
 * passed on byte for byte as soon as it is complete, one event at a time.
 *
 * With `ids` null (a GET stream: legacy HTTP+SSE answers, resumed streams) every response with a
 * `result.tools` array is filtered.
 *
 * A single event larger than `maxEventBytes` cannot be checked: the stream fails with
 * {@link ToolsFilterError} rather than pass an unfiltered tool list (fail closed). The rewritten
 * stream has other lengths than the upstream's: never send it with the upstream `Content-Length`.
 */
export class ToolsListSseFilter extends Transform {
  #pending: Buffer = Buffer.alloc(0);
  #filtered = 0;

  constructor(
    private readonly ids: ReadonlySet<JsonRpcId> | null,
    private readonly allowed: (tool: string) => boolean,
    private readonly maxEventBytes = MAX_FILTERED_BYTES,
  ) {
    super();
  }

  /** Whether a tools/list response went past (filtered). */
  get filtered(): boolean {
    return this.#filtered > 0;
  }

  /** How many tools/list responses were filtered so far. */
  get filteredCount(): number {
    return this.#filtered;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    for (;;) {
      // latin1 keeps one character per byte, so indexes in the text are byte offsets.
      const m = EVENT_END.exec(this.#pending.toString('latin1'));
      if (!m) break;
      const cut = m.index + m[0].length;
      const event = this.#pending.subarray(0, cut);
      this.#pending = this.#pending.subarray(cut);
      this.push(this.#rewrite(event));
    }
    if (this.#pending.length > this.maxEventBytes) {
      return cb(new ToolsFilterError(`an SSE event of more than ${this.maxEventBytes} bytes cannot be checked by the tools/list filter`));
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    // An unterminated last event is not dispatched by an SSE client; still, check it like the others.
    if (this.#pending.length > 0) this.push(this.#rewrite(this.#pending));
    this.#pending = Buffer.alloc(0);
    cb();
  }

  #rewrite(event: Buffer): Buffer {
    const text = event.toString('utf8');
    const lines = text.split(/\r\n|\r|\n/);
    const data: string[] = [];
    let type = 'message';
    for (const line of lines) {
      if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      else if (line === 'data') data.push('');
      else if (line.startsWith('event:')) type = line.slice(line.startsWith('event: ') ? 7 : 6);
    }
    if (data.length === 0 || type !== 'message') return event;
    let value: unknown;
    try {
      value = JSON.parse(data.join('\n'));
    } catch {
      return event;
    }
    const filtered = filterToolsMessage(value, this.ids, this.allowed);
    if (filtered === null) return event;
    this.#filtered++;
    const kept = lines.filter((l) => l !== '' && !l.startsWith('data:') && l !== 'data');
    return Buffer.from(`${[...kept, `data: ${JSON.stringify(filtered)}`].join('\n')}\n\n`, 'utf8');
  }
}
