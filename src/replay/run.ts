import { setTimeout as delay } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import { compareExchange, type Difference, type Observed } from './compare';
import { callName, describeCall, isRequest, isResponse, parseRpc, type RpcMessage } from './jsonrpc';
import { isPlaceholder } from './redact';
import type { RecordedExchange, Recording } from './reader';

export interface RunOptions {
  /** The live MCP endpoint: a gateway's `/mcp/{server}` or a server directly. */
  target: string;
  /** Which recorded server to replay (required when the recording has several). */
  server: string;
  /** Extra or replacing request headers (e.g. the live credential). */
  headers?: Array<[string, string]>;
  /** JSON Pointers into JSON-RPC messages whose values are not compared (`*` = any one token). */
  ignore?: readonly string[];
  /** Give up on a response after this long. Default 30 s. */
  timeoutMs?: number;
  /**
   * SSE fault injection (`--cut-sse-at N`): cut every response stream after its N-th message event
   * (1-based; priming events without data do not count), resume it with a GET carrying
   * `Last-Event-ID`, and report lost (via the comparison) or repeated (by event id) events.
   */
  cutSseAt?: number;
}

/** What `--cut-sse-at` did to one stream. */
export interface CutReport {
  /** The stream was cut after this many message events. */
  after: number;
  /** The id of the last event before the cut (`null`: the target sent none, so no resumption). */
  lastEventId: string | null;
  /** The resuming GET answered 200 with an event stream. */
  resumed: boolean;
  /** Events the resumed stream repeated (same event id as one before the cut). */
  duplicates: number;
}

/** How one SSE read ended. */
interface SseRead {
  /** The stream was cut by fault injection (after `events` events). */
  cut: boolean;
  events: number;
  lastId: string | undefined;
  ids: string[];
}

/** The outcome of `replay run` for one server. */
export interface RunResult {
  target: string;
  server: string;
  exchanges: Array<{ id: string; seq: number; call: string; recordedStatus: number; liveStatus: number; cut?: CutReport }>;
  differences: Difference[];
}

const SKIP_HEADERS = new Set(['host', 'content-length', 'connection', 'keep-alive', 'transfer-encoding', 'mcp-session-id', 'last-event-id']);

function observedOf(ex: RecordedExchange): Observed {
  const res = ex.response;
  if (res === undefined) return { status: 0, messages: [] };
  const messages =
    res.sse !== undefined
      ? res.sse.flatMap((e) => (e.data === undefined ? [] : (parseRpc(e.data)?.messages ?? [])))
      : (parseRpc(res.body)?.messages ?? []);
  return { status: res.status, messages };
}

/** Replays one recorded server's client side against a live target and compares the answers. */
export class ReplayRun {
  private session: string | undefined;
  private readonly differences: Difference[] = [];
  private readonly streams: Array<{ ex: RecordedExchange; abort: AbortController; done: Promise<Observed> }> = [];
  private readonly cuts = new Map<string, CutReport>();

  constructor(
    private readonly recording: Recording,
    private readonly opts: RunOptions,
  ) {}

  async run(): Promise<RunResult> {
    const exchanges: RunResult['exchanges'] = [];
    const list = this.recording.exchanges.filter((e) => e.server === this.opts.server);
    for (const ex of list) {
      const rpc = parseRpc(ex.request.body);
      if (rpc !== undefined && rpc.messages.every(isResponse)) continue; // answers are sent when asked for
      const call = describeCall(rpc?.messages, ex.request.method);
      if (ex.request.method === 'GET') {
        const abort = new AbortController();
        this.streams.push({ ex, abort, done: this.send(ex, abort.signal, list) });
        continue;
      }
      const live = await this.send(ex, AbortSignal.timeout(this.opts.timeoutMs ?? 30_000), list);
      this.compare(ex, call, live, rpc?.messages ?? []);
      const cut = this.cuts.get(ex.id);
      exchanges.push({ id: ex.id, seq: ex.seq, call, recordedStatus: ex.response?.status ?? 0, liveStatus: live.status, ...(cut ? { cut } : {}) });
    }
    for (const s of this.streams) {
      s.abort.abort();
      const live = await s.done;
      this.compare(s.ex, 'GET', live, []);
      exchanges.push({ id: s.ex.id, seq: s.ex.seq, call: 'GET', recordedStatus: s.ex.response?.status ?? 0, liveStatus: live.status });
    }
    return { target: this.opts.target, server: this.opts.server, exchanges, differences: this.differences };
  }

  private compare(ex: RecordedExchange, call: string, live: Observed, requests: RpcMessage[]): void {
    const methods = requests.filter(isRequest).map((m) => m.method ?? '');
    compareExchange(methods, observedOf(ex), live, this.opts.ignore ?? [], (severity, message, ops) =>
      this.differences.push({ severity, exchange: ex.id, seq: ex.seq, call, message, ops }),
    );
  }

  private headers(ex: RecordedExchange): Headers {
    const h = new Headers();
    for (const [n, v] of ex.request.headers) {
      if (SKIP_HEADERS.has(n.toLowerCase()) || isPlaceholder(v)) continue;
      h.append(n, v);
    }
    if (this.session !== undefined) h.set('mcp-session-id', this.session);
    const msg = parseRpc(ex.request.body)?.messages[0];
    // 2026-era headers mirror the body: regenerate them rather than trust recorded copies.
    if (h.has('mcp-method') && msg?.method !== undefined) h.set('mcp-method', msg.method);
    if (h.has('mcp-name') && msg !== undefined && callName(msg) !== undefined) h.set('mcp-name', callName(msg)!);
    for (const [n, v] of this.opts.headers ?? []) h.set(n, v);
    return h;
  }

  private async send(ex: RecordedExchange, signal: AbortSignal, list: RecordedExchange[]): Promise<Observed> {
    const hasBody = ex.request.body.length > 0 && ex.request.method !== 'GET';
    let res: Response;
    try {
      res = await fetch(this.opts.target, {
        method: ex.request.method,
        headers: this.headers(ex),
        ...(hasBody ? { body: ex.request.body } : {}),
        signal,
      });
    } catch {
      return { status: 0, messages: [] };
    }
    const sid = res.headers.get('mcp-session-id');
    if (sid !== null) this.session = sid;
    const messages: RpcMessage[] = [];
    try {
      if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream') && res.body !== null) {
        const wanted = new Set((parseRpc(ex.request.body)?.messages ?? []).filter(isRequest).map((m) => JSON.stringify(m.id)));
        const read = await this.readSse(res.body, ex, messages, list, wanted, ex.request.method === 'GET' ? undefined : this.opts.cutSseAt);
        if (read.cut) await this.resume(ex, read, messages, list, wanted, signal);
      } else messages.push(...(parseRpc(Buffer.from(await res.arrayBuffer()))?.messages ?? []));
    } catch {
      // Aborted (a GET stream at the end of the run) or cut: compare what arrived.
    }
    return { status: res.status, messages };
  }

  /**
   * Reads a stream's events into `out`, answering server requests. Stops at the end of the stream,
   * once every request in `wanted` (JSON ids) has its response (a resumed stream may stay open), or
   * after `cutAt` message events (fault injection: the read is abandoned, which cuts the connection).
   */
  private async readSse(
    body: ReadableStream<Uint8Array>,
    ex: RecordedExchange,
    out: RpcMessage[],
    list: RecordedExchange[],
    wanted: Set<string>,
    cutAt: number | undefined,
  ): Promise<SseRead> {
    const pending: Array<Promise<void>> = [];
    const seen = new Map<string, number>();
    const read: SseRead = { cut: false, events: 0, lastId: undefined, ids: [] };
    let stop = false;
    const parser = createParser({
      onEvent: (e) => {
        if (stop) return;
        if (e.id !== undefined) {
          read.lastId = e.id;
          read.ids.push(e.id);
        }
        const msgs = parseRpc(e.data)?.messages ?? [];
        if (msgs.length > 0) read.events += 1;
        if (cutAt !== undefined && read.events === cutAt) stop = read.cut = true;
        for (const m of msgs) {
          out.push(m);
          if (isResponse(m)) wanted.delete(JSON.stringify(m.id));
          if (!isRequest(m)) continue;
          const k = (seen.get(m.method!) ?? 0) + 1;
          seen.set(m.method!, k);
          pending.push(this.answer(ex, m, k, list));
        }
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of body) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      if (stop || (wanted.size === 0 && ex.request.method !== 'GET' && read.events > 0)) break; // cancels the body
    }
    await Promise.all(pending);
    return read;
  }

  /** Resumes a stream cut by fault injection: GET with `Last-Event-ID`, then checks for repeats. */
  private async resume(ex: RecordedExchange, first: SseRead, out: RpcMessage[], list: RecordedExchange[], wanted: Set<string>, signal: AbortSignal): Promise<void> {
    const report: CutReport = { after: first.events, lastEventId: first.lastId ?? null, resumed: false, duplicates: 0 };
    this.cuts.set(ex.id, report);
    const call = describeCall(parseRpc(ex.request.body)?.messages, ex.request.method);
    const fault = (message: string): void => void this.differences.push({ severity: 'breaking', exchange: ex.id, seq: ex.seq, call, message, ops: [] });
    if (first.lastId === undefined) return fault(`stream cut after event ${first.events} cannot resume: the target sent no event id`);
    const h = this.headers(ex);
    h.delete('content-type');
    h.set('accept', 'text/event-stream');
    h.set('last-event-id', first.lastId);
    let res: Response;
    try {
      // Like a client's reconnection delay: the target may not have seen the cut yet (the SDK answers
      // 409 while it still holds the old connection), so wait a little and retry a 409 a few times.
      for (let attempt = 0; ; attempt++) {
        await delay(25 * 2 ** attempt, undefined, { signal });
        res = await fetch(this.opts.target, { method: 'GET', headers: h, signal });
        if (res.status !== 409 || attempt >= 5) break;
        await res.body?.cancel();
      }
    } catch (err) {
      return fault(`resuming with Last-Event-ID failed: ${(err as Error).message}`);
    }
    if (!res.ok || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream') || res.body === null) {
      await res.body?.cancel();
      return fault(`resuming with Last-Event-ID ${first.lastId} answered HTTP ${res.status}`);
    }
    report.resumed = true;
    try {
      const again = await this.readSse(res.body, ex, out, list, wanted, undefined);
      const before = new Set(first.ids);
      report.duplicates = again.ids.filter((id) => before.has(id)).length;
    } catch {
      // Cut again or aborted: the comparison reports what went missing.
    }
    if (report.duplicates > 0) fault(`the resumed stream repeated ${report.duplicates} event(s) sent before the cut`);
  }

  /** Answers the k-th live server request of a method with the recorded answer to the k-th recorded one. */
  private async answer(ex: RecordedExchange, live: RpcMessage, k: number, list: RecordedExchange[]): Promise<void> {
    const recorded = observedOf(ex).messages.filter((m) => isRequest(m) && m.method === live.method)[k - 1];
    const answerEx = list.find((a) => parseRpc(a.request.body)?.messages.some((m) => isResponse(m) && m.id === recorded?.id));
    const recAnswer = answerEx === undefined ? undefined : parseRpc(answerEx.request.body)?.messages.find((m) => m.id === recorded?.id);
    const body =
      recAnswer === undefined
        ? { jsonrpc: '2.0', id: live.id, error: { code: -32603, message: 'replay: no recorded answer to this request' } }
        : { ...recAnswer, id: live.id };
    const h = answerEx === undefined ? new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' }) : this.headers(answerEx);
    try {
      const res = await fetch(this.opts.target, { method: 'POST', headers: h, body: JSON.stringify(body), signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000) });
      await res.arrayBuffer();
    } catch {
      // The stream's own comparison reports what went missing.
    }
  }
}

/** Replays `server` of `recording` against `target` (docs/replay.md, "replay run"). */
export function runReplay(recording: Recording, opts: RunOptions): Promise<RunResult> {
  return new ReplayRun(recording, opts).run();
}

