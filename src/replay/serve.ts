import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log';
import { F } from '../log';
import { ReplayErrorCode } from './errors';
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

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Serves a recording as mock MCP servers (Streamable HTTP) at `/mcp/{server}` (docs/replay.md,
 * "replay serve"). Rejects when the address cannot be bound.
 */
export async function startReplayServer(recording: Recording, opts: ServeOptions): Promise<ReplayServer> {
  const matcher = new Matcher(recording, opts.ignore ?? []);
  const triggers = streamTriggers(recording);
  const fired = new Set<string>();
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  const answers = new Map<string, () => void>();
  const liveToRec = new Map<string, string>();
  const recToLive = new Map<string, string>();
  const counts = { unmatched: 0, answerMismatches: 0, streams: 0 };
  const timing = opts.timing ?? { mode: 'instant' };
  const log = opts.logger?.child({ [F.component]: 'replay' });
  const open = new Set<ServerResponse>();

  const pace = async (fromT: number, toT: number, res: ServerResponse): Promise<void> => {
    const factor = timing.mode === 'instant' ? 0 : timing.mode === 'recorded' ? 1 : timing.factor;
    const ms = (toT - fromT) * factor;
    if (ms <= 0 || res.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      res.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  };

  const liveSession = (recorded: string): string => {
    let live = recToLive.get(recorded);
    if (live === undefined) {
      live = randomUUID();
      recToLive.set(recorded, live);
      liveToRec.set(live, recorded);
    }
    return live;
  };

  const responseHeaders = (ex: RecordedExchange): Record<string, string | string[]> => {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of ex.response?.headers ?? []) {
      const n = name.toLowerCase();
      if (DROP_RESPONSE_HEADERS.has(n)) continue;
      const v = n === 'mcp-session-id' ? liveSession(value) : value;
      const prev = out[n];
      out[n] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
    }
    return out;
  };

  const waitFired = (id: string, res: ServerResponse): Promise<void> =>
    fired.has(id) || res.destroyed
      ? Promise.resolve()
      : new Promise((resolve) => {
          const check = (): void => {
            if (!fired.has(id) && !res.destroyed) return;
            bus.off('fired', check);
            res.off('close', check);
            resolve();
          };
          bus.on('fired', check);
          res.on('close', check);
        });

  const waitAnswer = (server: string, id: unknown, res: ServerResponse): Promise<void> =>
    new Promise((resolve) => {
      const key = `${server}\n${JSON.stringify(id)}`;
      const done = (): void => {
        clearTimeout(timer);
        answers.delete(key);
        resolve();
      };
      const timer = setTimeout(() => {
        log?.warn({ [F.code]: ReplayErrorCode.AnswerTimeout, [F.server]: server }, 'no client answer to a replayed server request');
        done();
      }, opts.answerTimeoutMs ?? 30_000);
      answers.set(key, done);
      res.once('close', done);
    });

  const writeSse = async (ex: RecordedExchange, events: RecordedSse[], rw: Rewriter, res: ServerResponse): Promise<void> => {
    const tag = `r${++counts.streams}`;
    let prevT = ex.response?.t ?? ex.t;
    let n = 0;
    for (const ev of events) {
      const trigger = triggers.get(ev.seq);
      if (trigger !== undefined) await waitFired(trigger, res);
      await pace(prevT, ev.t, res);
      prevT = ev.t;
      if (res.destroyed) return;
      const data = ev.data === undefined ? undefined : rw.text(ev.data);
      const out = { ...ev, ...(data === undefined ? {} : { data }), ...(ev.id === undefined ? {} : { id: `${tag}-${++n}` }) };
      res.write(sseText(out));
      const msg = data === undefined ? undefined : parseRpc(data)?.messages[0];
      // A server-to-client request: the recorded stream went on only after the client answered.
      if (msg !== undefined && isRequest(msg)) await waitAnswer(ex.server, msg.id, res);
    }
  };

  const noMatch = (res: ServerResponse, server: string, method: string, body: Buffer, result: MatchResult & { ok: false }): void => {
    counts.unmatched += 1;
    const rpc = parseRpc(body);
    const closest = result.closest;
    const call = describeCall(rpc?.messages, method);
    const near =
      closest === undefined
        ? 'the recording has no exchange for this server'
        : `closest recorded: ${describeCall(parseRpc(closest.exchange.request.body)?.messages, closest.exchange.request.method)} ` +
          `(exchange ${closest.exchange.id}, seq ${closest.exchange.seq}), differing at ${closest.diff.map((d) => d.path || '/').join(', ') || '(already answered)'}`;
    log?.warn({ [F.code]: ReplayErrorCode.NoMatch, [F.server]: server, [F.method]: method }, `unmatched ${call}; ${near}`);
    const error = {
      code: -32001,
      message: `replay: no recorded exchange matches ${call}; ${near}`,
      data: {
        code: ReplayErrorCode.NoMatch,
        ...(closest === undefined ? {} : { closest: { exchange: closest.exchange.id, seq: closest.exchange.seq, diff: closest.diff } }),
      },
    };
    const id = rpc?.messages.find(isRequest)?.id ?? null;
    res.writeHead(method === 'GET' ? 405 : rpc === undefined || id === null ? 400 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id, error }));
  };

  const answered = (server: string, body: Buffer, ex: RecordedExchange | undefined): void => {
    for (const m of parseRpc(body)?.messages ?? []) if (isResponse(m)) answers.get(`${server}\n${JSON.stringify(m.id)}`)?.();
    if (ex === undefined) counts.answerMismatches += 1;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://replay');
    const m = /^\/mcp\/([^/]+)$/.exec(url.pathname);
    const server = m === null ? undefined : decodeURIComponent(m[1]!);
    if (server === undefined || !recording.servers.includes(server)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'replay: no such recorded server' } }));
      return;
    }
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const sid = req.headers['mcp-session-id'];
    const recSession = typeof sid === 'string' ? liveToRec.get(sid) : undefined;
    const result = matcher.match(server, method, body, recSession);
    const rpc = parseRpc(body);
    const isAnswer = rpc !== undefined && rpc.messages.every(isResponse);
    if (!result.ok) {
      if (isAnswer && result.closest !== undefined) {
        // The client answered a replayed server request differently: note it, answer as recorded.
        log?.warn({ [F.server]: server, diff: result.closest.diff }, 'client answer differs from the recorded one');
        answered(server, body, undefined);
        matcher.consume(result.closest.exchange);
        await respond(result.closest.exchange, body, res);
        return;
      }
      noMatch(res, server, method, body, result);
      return;
    }
    fired.add(result.exchange.id);
    bus.emit('fired');
    if (isAnswer) answered(server, body, result.exchange);
    await respond(result.exchange, body, res);
  };

  const respond = async (ex: RecordedExchange, liveBody: Buffer, res: ServerResponse): Promise<void> => {
    const rec = ex.response;
    if (rec === undefined) {
      res.destroy();
      return;
    }
    await pace(ex.t, rec.t, res);
    const rw = new Rewriter(ex.request.body, liveBody);
    res.writeHead(rec.status, responseHeaders(ex));
    if (rec.sse !== undefined) {
      res.flushHeaders();
      await writeSse(ex, rec.sse, rw, res);
      if (ex.end.type === 'reset') res.destroy();
      else if (ex.end.type === 'end') res.end();
      return; // still open in the recording: stays open until the client leaves or the server closes
    }
    await pace(rec.t, ex.end.t, res);
    const text = rec.body.toString('utf8');
    res.end(Buffer.from(text, 'utf8').equals(rec.body) ? rw.text(text) : rec.body);
  };

  const http: Server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    handle(req, res).catch((err: unknown) => {
      log?.error({ [F.err]: String(err) }, 'replay request failed');
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
    unmatched: () => counts.unmatched,
    answerMismatches: () => counts.answerMismatches,
    close: async () => {
      for (const res of open) res.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
