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
}

/** The outcome of `replay run` for one server. */
export interface RunResult {
  target: string;
  server: string;
  exchanges: Array<{ id: string; seq: number; call: string; recordedStatus: number; liveStatus: number }>;
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
      exchanges.push({ id: ex.id, seq: ex.seq, call, recordedStatus: ex.response?.status ?? 0, liveStatus: live.status });
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
        await this.readSse(res.body, ex, messages, list);
      } else messages.push(...(parseRpc(Buffer.from(await res.arrayBuffer()))?.messages ?? []));
    } catch {
      // Aborted (a GET stream at the end of the run) or cut: compare what arrived.
    }
    return { status: res.status, messages };
  }

  private async readSse(body: ReadableStream<Uint8Array>, ex: RecordedExchange, out: RpcMessage[], list: RecordedExchange[]): Promise<void> {
    const pending: Array<Promise<void>> = [];
    const seen = new Map<string, number>();
    const parser = createParser({
      onEvent: (e) => {
        for (const m of parseRpc(e.data)?.messages ?? []) {
          out.push(m);
          if (!isRequest(m)) continue;
          const k = (seen.get(m.method!) ?? 0) + 1;
          seen.set(m.method!, k);
          pending.push(this.answer(ex, m, k, list));
        }
      },
    });
    const decoder = new TextDecoder();
    for await (const chunk of body) parser.feed(decoder.decode(chunk, { stream: true }));
    await Promise.all(pending);
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

