/**
 * Raw MCP clients for the continuity tests: a session (initialize over POST), its standalone GET
 * stream read event by event, and `progress` tool calls whose SSE answers are read the same way.
 * Raw HTTP (fetch) rather than the SDK client on purpose: the SDK client reconnects by itself with
 * Last-Event-ID, which would hide a cut stream; here any end or error of a stream is a disconnect.
 */
import { SseParser, type SseEvent } from '../../helpers/sse';

export const PROTOCOL = '2025-11-25';

/** What one client stream saw. */
export interface StreamLog {
  events: SseEvent[];
  /** How the stream ended: still open, ended by the server, or failed (cut). */
  end: 'open' | 'ended' | 'failed';
  error?: string;
  /** Longest time between two events (a resumption's cost as the client feels it). */
  maxGapMs: number;
}

function headers(apiKey: string, sessionId?: string): Record<string, string> {
  return {
    authorization: `Bearer ${apiKey}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': PROTOCOL,
    ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
  };
}

/** Reads an SSE response into `log` until it ends; never rejects. */
async function pump(res: Response, log: StreamLog, signal: AbortSignal): Promise<void> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  let last = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      for (const item of parser.push(decoder.decode(chunk, { stream: true }))) {
        if (item.type !== 'event') continue;
        const now = Date.now();
        if (log.events.length > 0) log.maxGapMs = Math.max(log.maxGapMs, now - last);
        last = now;
        log.events.push(item);
      }
    }
    log.end = 'ended';
  } catch (err) {
    if (signal.aborted) return; // the test closed it
    log.end = 'failed';
    log.error = String(err);
  }
}

/** One MCP session through the gateway, with its standalone GET stream. */
export class RawSession {
  readonly get: StreamLog = { events: [], end: 'open', maxGapMs: 0 };
  readonly #abort = new AbortController();
  #getDone: Promise<void> = Promise.resolve();

  private constructor(
    private readonly url: string,
    private readonly apiKey: string,
    readonly sessionId: string,
  ) {}

  static async open(url: string, apiKey: string, n: number): Promise<RawSession> {
    const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: `c${n}`, version: '1' } } };
    const res = await fetch(url, { method: 'POST', headers: headers(apiKey), body: JSON.stringify(init) });
    const sid = res.headers.get('mcp-session-id');
    await res.text();
    if (res.status !== 200 || !sid) throw new Error(`initialize: ${res.status}`);
    const s = new RawSession(url, apiKey, sid);
    const note = await fetch(url, { method: 'POST', headers: headers(apiKey, sid), body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    await note.text();
    return s;
  }

  /** Opens the standalone GET stream; resolves once its head arrived. */
  async openGet(): Promise<void> {
    const h = headers(this.apiKey, this.sessionId);
    delete h['content-type'];
    h.accept = 'text/event-stream';
    const res = await fetch(this.url, { method: 'GET', headers: h, signal: this.#abort.signal });
    if (res.status !== 200) throw new Error(`GET stream: ${res.status} ${await res.text()}`);
    this.#getDone = pump(res, this.get, this.#abort.signal);
  }

  /** Calls `progress {steps, intervalMs}` with a progress token; resolves with the response stream's log once it ends. */
  callProgress(id: number, steps: number, intervalMs: number): Promise<StreamLog> {
    return this.startProgress(id, steps, intervalMs).done;
  }

  /** As {@link callProgress}, with the log readable while the call runs. */
  startProgress(id: number, steps: number, intervalMs: number): { log: StreamLog; done: Promise<StreamLog> } {
    const log: StreamLog = { events: [], end: 'open', maxGapMs: 0 };
    return { log, done: this.#progress(log, id, steps, intervalMs) };
  }

  async #progress(log: StreamLog, id: number, steps: number, intervalMs: number): Promise<StreamLog> {
    const body = { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'progress', arguments: { steps, intervalMs }, _meta: { progressToken: `p${id}` } } };
    try {
      const res = await fetch(this.url, { method: 'POST', headers: headers(this.apiKey, this.sessionId), body: JSON.stringify(body), signal: this.#abort.signal });
      if (res.status !== 200) throw new Error(`tools/call: ${res.status}`);
      await pump(res, log, this.#abort.signal);
    } catch (err) {
      log.end = 'failed';
      log.error = String(err);
    }
    return log;
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#getDone;
  }
}

/** The `data` of `notifications/message` events (the broadcast ticks) on a GET stream. */
export function ticksOf(log: StreamLog): number[] {
  return log.events.filter((e) => e.data.includes('notifications/message')).map((e) => Number(/"data":"tick (\d+)"/.exec(e.data)?.[1] ?? -1));
}

/** Progress values of a tool call's stream, and whether it carried the final result. */
export function progressOf(log: StreamLog): { progress: number[]; result: string | null } {
  const progress: number[] = [];
  let result: string | null = null;
  for (const e of log.events) {
    if (!e.data) continue;
    const msg = JSON.parse(e.data) as { method?: string; params?: { progress?: number }; result?: { content?: Array<{ text?: string }> } };
    if (msg.method === 'notifications/progress') progress.push(msg.params?.progress ?? -1);
    else if (msg.result) result = msg.result.content?.[0]?.text ?? '';
  }
  return { progress, result };
}

/** Event ids as numbers (the fixture's store numbers them per session): must be strictly increasing. */
export function idsIncreasing(log: StreamLog): boolean {
  const ids = log.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
  return ids.every((id, i) => i === 0 || id > ids[i - 1]!);
}

/** 1..n without gap or duplicate. */
export function isRun(values: number[], from: number, to: number): boolean {
  if (values.length !== to - from + 1) return false;
  return values.every((v, i) => v === from + i);
}
