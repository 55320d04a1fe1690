import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log';
import { F } from '../log';
import { asyncScheduler, type SchedulerLike, type Subscription } from '../rx';
import { ReplayErrorCode } from './errors';
import { CLIENT_GONE_REASON } from './format';
import { announcedSession, liveEndpoint, routeOf } from './legacy';
import { isRequest, isResponse, parseRpc, describeCall } from './jsonrpc';
import { Matcher, type MatchResult } from './matcher';
import type { RecordedExchange, RecordedSse, Recording } from './reader';
import { Rewriter, sseText } from './rewrite';
import { streamTriggers } from './triggers';

/** How fast recorded responses are played: at once (default), as recorded, or recorded × factor. */
export type Timing = { mode: 'instant' } | { mode: 'recorded' } | { mode: 'scaled'; factor: number };

export interface ServeOptions {
  host: string;
  port: number;
  timing?: Timing;
  /** JSON Pointers (relative to `params`) left out of matching. */
  ignore?: readonly string[];
  /** How long a replayed server-to-client request waits for the client's answer. Default 30 s. */
  answerTimeoutMs?: number;
  logger?: Logger;
  /**
   * Time for the paced timing modes and the answer timeout (default `asyncScheduler`, real time); a
   * virtual-time scheduler in tests (test/unit/replay/serve-virtual-time.test.ts).
   */
  scheduler?: SchedulerLike;
}

/** A running replay server. */
export interface ReplayServer {
  /** `http://HOST:PORT/mcp/{server}` per recorded server. */
  urls: Array<{ server: string; url: string }>;
  port: number;
  /** Requests no recorded exchange matched. */
  unmatched(): number;
  /** Client answers to replayed server requests that differ from the recorded ones. */
  answerMismatches(): number;
  close(): Promise<void>;
}

const DROP_RESPONSE_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

/**
 * Runs `fn` after `ms` on `scheduler`, unless `res` closes first (then `onClose` runs instead, at
 * once). Either way the timer and the listener are released; returns the cancel function.
 */
function afterOrClose(scheduler: SchedulerLike, ms: number, res: ServerResponse, fn: () => void, onClose: () => void): () => void {
  let timer: Subscription | null = null;
  const cancel = (): void => {
    timer?.unsubscribe();
    res.off('close', closed);
  };
  const closed = (): void => {
    cancel();
    onClose();
  };
  res.once('close', closed);
  timer = scheduler.schedule(() => {
    cancel();
    fn();
  }, ms);
  return cancel;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The replay state of one `replay serve`: the matcher, the live ↔ recorded session map, which
 * recorded exchanges have been matched (to release stream events), and pending client answers.
 */
class ReplayHandler {
  private readonly matcher: Matcher;
  private readonly triggers: Map<number, string>;
  private readonly fired = new Set<string>();
  /** Per recorded session: the ids of every matched request, for answers that travel on a GET stream. */
  private readonly sessionRewriters = new Map<string, Rewriter>();
  /** Legacy HTTP+SSE: live session id → the endpoint path announced to it and its open stream. */
  private readonly legacy = new Map<string, { path: string; stream: ServerResponse }>();
  private readonly bus = new EventEmitter();
  private readonly answers = new Map<string, () => void>();
  private readonly liveToRec = new Map<string, string>();
  private readonly recToLive = new Map<string, string>();
  readonly counts = { unmatched: 0, answerMismatches: 0, streams: 0 };
  private readonly timing: Timing;
  private readonly scheduler: SchedulerLike;
  private readonly log: Logger | undefined;

  constructor(
    private readonly recording: Recording,
    private readonly opts: ServeOptions,
  ) {
    this.matcher = new Matcher(recording, opts.ignore ?? []);
    this.triggers = streamTriggers(recording);
    this.bus.setMaxListeners(0);
    this.timing = opts.timing ?? { mode: 'instant' };
    this.scheduler = opts.scheduler ?? asyncScheduler;
    this.log = opts.logger?.child({ [F.component]: 'replay' });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://replay');
    const route = routeOf(url.pathname);
    const server = route?.server;
    if (server === undefined || !this.recording.servers.includes(server)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'replay: no such recorded server' } }));
      return;
    }
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const sid = route?.rest === undefined ? req.headers['mcp-session-id'] : this.legacySession(url, method);
    if (route?.rest !== undefined && sid === undefined) {
      // Like the SDK's SSEServerTransport: only the endpoint announced to a live stream takes POSTs.
      res.writeHead(404, { 'content-type': 'text/plain' }).end('replay: unknown legacy message endpoint or sessionId');
      return;
    }
    const recSession = typeof sid === 'string' ? this.liveToRec.get(sid) : undefined;
    const result = this.matcher.match(server, method, body, recSession);
    const rpc = parseRpc(body);
    const isAnswer = rpc !== undefined && rpc.messages.every(isResponse);
    if (!result.ok) {
      if (isAnswer && result.closest !== undefined) {
        // The client answered a replayed server request differently: note it, answer as recorded.
        this.log?.warn({ [F.server]: server, diff: result.closest.diff }, 'client answer differs from the recorded one');
        this.answered(server, body, false);
        this.matcher.consume(result.closest.exchange);
        await this.respond(result.closest.exchange, body, res);
        return;
      }
      this.noMatch(res, server, method, body, result, typeof sid === 'string' ? this.legacy.get(sid)?.stream : undefined);
      return;
    }
    this.streamRewriter(result.exchange).add(result.exchange.request.body, body);
    this.fired.add(result.exchange.id);
    this.bus.emit('fired');
    if (isAnswer) this.answered(server, body, true);
    await this.respond(result.exchange, body, res);
  }

  private async respond(ex: RecordedExchange, liveBody: Buffer, res: ServerResponse): Promise<void> {
    const rec = ex.response;
    if (rec === undefined) {
      res.destroy();
      return;
    }
    await this.pace(ex.t, rec.t, res);
    const rw = new Rewriter(ex.request.body, liveBody);
    res.writeHead(rec.status, this.responseHeaders(ex));
    if (rec.sse !== undefined) {
      res.flushHeaders();
      await this.writeSse(ex, rec.sse, rw, res);
      // A reset the client caused (it left first) is the client's doing, not the server's: not replayed.
      if (ex.end.type === 'reset' && ex.end.reason !== CLIENT_GONE_REASON) res.destroy();
      else if (ex.end.type === 'end') res.end();
      return; // still open in the recording: stays open until the client leaves or the server closes
    }
    await this.pace(rec.t, ex.end.t, res);
    const text = rec.body.toString('utf8');
    res.end(Buffer.from(text, 'utf8').equals(rec.body) ? rw.text(text) : rec.body);
  }

  private async pace(fromT: number, toT: number, res: ServerResponse): Promise<void> {
    const t = this.timing;
    const factor = t.mode === 'instant' ? 0 : t.mode === 'recorded' ? 1 : t.factor;
    const ms = (toT - fromT) * factor;
    if (ms <= 0 || res.destroyed) return;
    await new Promise<void>((resolve) => afterOrClose(this.scheduler, ms, res, resolve, resolve));
  }

  /** The live session of a POST to a legacy message endpoint, when that endpoint was announced. */
  private legacySession(url: URL, method: string): string | undefined {
    const live = url.searchParams.get('sessionId');
    const known = live === null ? undefined : this.legacy.get(live);
    return method === 'POST' && known !== undefined && known.path === url.pathname ? live! : undefined;
  }

  /** The rewriter of a recorded session (one per exchange without a session). */
  private streamRewriter(ex: RecordedExchange): Rewriter {
    if (ex.session === null) return new Rewriter(Buffer.alloc(0), Buffer.alloc(0));
    const key = `${ex.server}\n${ex.session}`;
    let rw = this.sessionRewriters.get(key);
    if (rw === undefined) {
      rw = new Rewriter(Buffer.alloc(0), Buffer.alloc(0));
      this.sessionRewriters.set(key, rw);
    }
    return rw;
  }

  /** The `endpoint` event's data for the live client; registers the live legacy session. */
  private announce(ex: RecordedExchange, recorded: string, res: ServerResponse): string {
    const recSession = announcedSession(recorded) ?? ex.session ?? ex.id;
    const live = this.liveSession(recSession);
    const data = liveEndpoint(recorded, ex.server, live);
    this.legacy.set(live, { path: new URL(data, 'http://replay').pathname, stream: res });
    res.once('close', () => this.legacy.delete(live));
    return data;
  }

  private liveSession(recorded: string): string {
    let live = this.recToLive.get(recorded);
    if (live === undefined) {
      live = randomUUID();
      this.recToLive.set(recorded, live);
      this.liveToRec.set(live, recorded);
    }
    return live;
  }

  private responseHeaders(ex: RecordedExchange): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of ex.response?.headers ?? []) {
      const n = name.toLowerCase();
      if (DROP_RESPONSE_HEADERS.has(n)) continue;
      const v = n === 'mcp-session-id' ? this.liveSession(value) : value;
      const prev = out[n];
      out[n] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
    }
    return out;
  }

  private waitFired(id: string, res: ServerResponse): Promise<void> {
    if (this.fired.has(id) || res.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!this.fired.has(id) && !res.destroyed) return;
        this.bus.off('fired', check);
        res.off('close', check);
        resolve();
      };
      this.bus.on('fired', check);
      res.on('close', check);
    });
  }

  private waitAnswer(server: string, id: unknown, res: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const key = `${server}\n${JSON.stringify(id)}`;
      const done = (): void => {
        this.answers.delete(key);
        resolve();
      };
      const timeout = (): void => {
        this.log?.warn({ [F.code]: ReplayErrorCode.AnswerTimeout, [F.server]: server }, 'no client answer to a replayed server request');
        done();
      };
      const cancel = afterOrClose(this.scheduler, this.opts.answerTimeoutMs ?? 30_000, res, timeout, done);
      this.answers.set(key, () => {
        cancel();
        done();
      });
    });
  }

  private async writeSse(ex: RecordedExchange, events: RecordedSse[], rw: Rewriter, res: ServerResponse): Promise<void> {
    const tag = `r${++this.counts.streams}`;
    // A GET stream carries messages about the session's other requests: map with the session's ids.
    const mapper = ex.request.body.length > 0 ? rw : this.streamRewriter(ex);
    let prevT = ex.response?.t ?? ex.t;
    let n = 0;
    for (const ev of events) {
      const trigger = this.triggers.get(ev.seq);
      if (trigger !== undefined) await this.waitFired(trigger, res);
      await this.pace(prevT, ev.t, res);
      prevT = ev.t;
      if (res.destroyed) return;
      const data =
        ev.data === undefined ? undefined : ev.event === 'endpoint' ? this.announce(ex, ev.data, res) : mapper.text(ev.data);
      const out = { ...ev, ...(data === undefined ? {} : { data }), ...(ev.id === undefined ? {} : { id: `${tag}-${++n}` }) };
      // One event per write, the next only once this one reached the socket: a client that handles
      // notifications a tick later than responses (the SDK) must not get a result before its progress.
      await new Promise<void>((resolve) => res.write(sseText(out), () => setImmediate(resolve)));
      const msg = data === undefined ? undefined : parseRpc(data)?.messages[0];
      // A server-to-client request: the recorded stream went on only after the client answered.
      if (msg !== undefined && isRequest(msg)) await this.waitAnswer(ex.server, msg.id, res);
    }
  }

  private noMatch(
    res: ServerResponse,
    server: string,
    method: string,
    body: Buffer,
    result: MatchResult & { ok: false },
    legacyStream: ServerResponse | undefined,
  ): void {
    this.counts.unmatched += 1;
    const rpc = parseRpc(body);
    const closest = result.closest;
    const call = describeCall(rpc?.messages, method);
    const near =
      closest === undefined
        ? 'the recording has no exchange for this server'
        : `closest recorded: ${describeCall(parseRpc(closest.exchange.request.body)?.messages, closest.exchange.request.method)} ` +
          `(exchange ${closest.exchange.id}, seq ${closest.exchange.seq}), differing at ${closest.diff.map((d) => d.path || '/').join(', ') || '(already answered)'}`;
    this.log?.warn({ [F.code]: ReplayErrorCode.NoMatch, [F.server]: server, [F.method]: method }, `unmatched ${call}; ${near}`);
    const error = {
      code: -32001,
      message: `replay: no recorded exchange matches ${call}; ${near}`,
      data: {
        code: ReplayErrorCode.NoMatch,
        ...(closest === undefined ? {} : { closest: { exchange: closest.exchange.id, seq: closest.exchange.seq, diff: closest.diff } }),
      },
    };
    const id = rpc?.messages.find(isRequest)?.id ?? null;
    if (legacyStream !== undefined && id !== null) {
      // Legacy HTTP+SSE: the POST is accepted and the answer (here the error) travels on the stream.
      legacyStream.write(sseText({ event: 'message', data: JSON.stringify({ jsonrpc: '2.0', id, error }) }));
      res.writeHead(202).end('Accepted');
      return;
    }
    res.writeHead(method === 'GET' ? 405 : rpc === undefined || id === null ? 400 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id, error }));
  }

  private answered(server: string, body: Buffer, same: boolean): void {
    for (const m of parseRpc(body)?.messages ?? []) if (isResponse(m)) this.answers.get(`${server}\n${JSON.stringify(m.id)}`)?.();
    if (!same) this.counts.answerMismatches += 1;
  }
}

/**
 * Serves a recording as mock MCP servers (Streamable HTTP) at `/mcp/{server}` (docs/replay.md,
 * "replay serve"). Rejects when the address cannot be bound.
 */
export async function startReplayServer(recording: Recording, opts: ServeOptions): Promise<ReplayServer> {
  const handler = new ReplayHandler(recording, opts);
  const open = new Set<ServerResponse>();
  const http: Server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    handler.handle(req, res).catch((err: unknown) => {
      opts.logger?.error({ [F.component]: 'replay', [F.err]: String(err) }, 'replay request failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port, opts.host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    urls: recording.servers.map((server) => ({ server, url: `http://${host}:${port}/mcp/${encodeURIComponent(server)}` })),
    port,
    unmatched: () => handler.counts.unmatched,
    answerMismatches: () => handler.counts.answerMismatches,
    close: async () => {
      for (const res of open) res.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
