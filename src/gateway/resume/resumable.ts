/**
 * The plumbing of gateway-side resumption (docs/operations.md, "Continuity"): one client response
 * that outlives the tunnel streams carrying it. The response body the client reads is one Readable;
 * behind it, one upstream attempt at a time feeds an {@link SseCursor}. When an attempt fails in a
 * resumable way, or its connection starts draining, the gateway re-issues the request as a `GET`
 * with `Last-Event-ID` on another live connection of the tunnel and continues the same body.
 *
 * Hooks: `relay.ts` asks {@link ResumableResponse.start} for the body to pipe; `exchange.ts` leaves
 * stream failures of the response phase to it once {@link ResumableResponse.active}; `forward.ts`
 * awaits {@link ResumableResponse.settled} before the audit record is written.
 */
import { Readable } from 'node:stream';
import { Subject, asyncScheduler, firstValueFrom, map, takeUntil, timer, type SchedulerLike, type Subscription } from '../../rx';
import { fullJitterDelay } from '../../connection/backoff';
import { describeError } from '../../errors';
import { fromNodeRawHeaders, getHeader, requestHeadersForUpstream } from '../../http';
import { F } from '../../log';
import type { MuxStream } from '../../mux';
import type { ResponseHead } from '../../protocol';
import { isHeaderEra } from '../policy/era';
import type { Admitted } from '../request/admit';
import type { ForwardState, RequestContext } from '../request/context';
import { cutResponse } from '../request/respond';
import type { SessionBinding } from '../session-binding';
import { tunnelStreamClosed } from '../stream-lifecycle';
import type { TunnelConnection, TunnelRegistry } from '../tunnels';
import { carriesAnswer, classifyResumeHead, isResumableFailure, requestIdOf, resumeHeaders, resumeRefusal, type JsonRpcId, type ResumeIdentity } from './attempt';
import { SseCursor } from './sse-cursor';

/**
 * Bytes of an incomplete event held back: none. Every upstream write reaches the client before the
 * next one (mcp-passthrough.md rule 6, test/integration/passthrough/streaming.test.ts), so a stream
 * cut in the middle of an event is not resumable (half an event is at the client); a drain moves a
 * stream only between events. The cursor supports holding for a future opt-in.
 */
export const MAX_HELD_EVENT_BYTES = 0;
/** Event ids remembered per client stream for duplicate filtering. */
export const MAX_REMEMBERED_IDS = 1024;
/** Backoff between attempts of one resumption (full jitter). */
export const RESUME_BACKOFF = { baseMs: 100, capMs: 2000 } as const;

export interface ResumeDeps {
  registry: TunnelRegistry;
  state: () => ForwardState;
  scheduler?: SchedulerLike;
}

/** How an attempt to open the resumed request ended. */
type Opened = { stream: MuxStream; head: ResponseHead } | { retry: string } | { giveUp: string };

/** One client response that may be carried by several tunnel streams in turn. */
export class ResumableResponse {
  readonly #cursor = new SseCursor({ maxHeldBytes: MAX_HELD_EVENT_BYTES, maxRememberedIds: MAX_REMEMBERED_IDS });
  readonly #gone = new Subject<void>();
  readonly #scheduler: SchedulerLike;
  readonly #conns: string[] = [];
  #out: Readable | null = null;
  #source: MuxStream | null = null;
  #sourceConn: TunnelConnection | null = null;
  #detach: () => void = () => undefined;
  #sessionId: string | null;
  #resumptions = 0;
  #bytesOut = 0;
  #ended = false;
  #drainWanted = false;
  #handover = false;
  /** The id whose answer ends a resumed POST stream; null: none to wait for (a GET stream, a batch…). */
  readonly #answerId: JsonRpcId | null;

  private constructor(
    private readonly ctx: RequestContext,
    private readonly admitted: Admitted,
    private readonly sessions: SessionBinding,
    private readonly first: TunnelConnection,
    private readonly deps: ResumeDeps,
  ) {
    this.#scheduler = deps.scheduler ?? asyncScheduler;
    this.#sessionId = admitted.target.sessionKey;
    const { body, value } = admitted.admission;
    this.#answerId = ctx.req.method === 'POST' && body.kind === 'whole' ? requestIdOf(value) : null;
  }

  /**
   * The resumption of this request, or null when it can never be resumed: resumption is off
   * (`limits.resumeWindowMs` 0), a legacy HTTP+SSE message endpoint, a method other than GET/POST,
   * or a protocol version from 2026-07-28 on (closing the stream cancels there).
   */
  static for(ctx: RequestContext, admitted: Admitted, conn: TunnelConnection, deps: ResumeDeps): ResumableResponse | null {
    if (!(ctx.state.resumeWindowMs > 0) || admitted.target.legacy) return null;
    if (ctx.req.method !== 'GET' && ctx.req.method !== 'POST') return null;
    const version = ctx.req.headers['mcp-protocol-version'];
    if (isHeaderEra(typeof version === 'string' ? version : undefined)) return null;
    return new ResumableResponse(ctx, admitted, deps.registry.sessions, conn, deps);
  }

  /** True once {@link start} took the response over: stream failures are this object's to handle. */
  get active(): boolean {
    return this.#out !== null;
  }

  /** Response body bytes sent towards the client (every attempt, duplicates dropped). */
  get bytesOut(): number {
    return this.#bytesOut;
  }

  /**
   * Takes over the body of a 200 `text/event-stream` response carried by `stream` (the request's
   * first stream): returns the Readable to pipe to the client instead of the stream, or null for
   * any other response (which is relayed as before).
   */
  start(stream: MuxStream, head: ResponseHead): Readable | null {
    if (head.status !== 200 || !(getHeader(head.headers, 'content-type') ?? '').toLowerCase().startsWith('text/event-stream')) return null;
    this.#sessionId ??= getHeader(head.headers, 'mcp-session-id') ?? null;
    const out = (this.#out = new Readable({ read: () => this.#source?.resume() }));
    // A filter downstream (tools/list on a GET stream) fails its source: cut as any stream failure.
    out.once('error', (err) => {
      this.#clientGone();
      cutResponse(this.ctx, err);
    });
    this.ctx.res.once('close', () => this.#clientGone());
    this.#attach(stream, this.first);
    return this.#out;
  }

  /**
   * Resolves once the response is over and the last tunnel stream closed; writes `resumptions` and
   * `conns` into the audit record when the response carried event ids.
   */
  async settled(): Promise<void> {
    if (!this.#out) return;
    if (!this.#ended) await new Promise<void>((resolve) => this.#gone.subscribe({ complete: resolve }));
    if (this.#source) await tunnelStreamClosed(this.#source);
    // Only responses of an upstream that numbers its events could be resumed: the others' records are unchanged.
    if (this.#cursor.sawIds) this.ctx.audit.annotate({ resumptions: this.#resumptions, conns: [...this.#conns] });
  }

  #attach(stream: MuxStream, conn: TunnelConnection): void {
    this.#source = stream;
    this.#sourceConn = conn;
    this.#conns.push(conn.id);
    const out = this.#out!;
    const onData = (chunk: Buffer): void => {
      const blocks = this.#cursor.push(chunk);
      for (const b of blocks) {
        this.#bytesOut += b.length;
        if (!out.push(b)) stream.pause();
      }
      if (this.#resumptions > 0 && this.#answerId !== null && blocks.length > 0 && carriesAnswer(blocks, this.#answerId)) return this.#answered();
      if (this.#drainWanted) this.#maybeHandover();
    };
    const onEnd = (): void => {
      if (this.#ended) return;
      for (const b of this.#cursor.flush()) {
        this.#bytesOut += b.length;
        out.push(b);
      }
      out.push(null);
      this.#end();
    };
    const onError = (err: unknown): void => this.#failed(stream, err);
    stream.on('data', onData);
    stream.once('end', onEnd);
    // The END frame arrived: when nothing of the stream is still buffered, end the client's stream in this
    // same tick (the wrapper must not add a tick: the upstream's order of END vs another stream's answer).
    const onRemoteEnd = (): void => {
      if (stream.readableLength === 0 && stream.readableFlowing === true) onEnd();
    };
    stream.once('remoteEnd', onRemoteEnd);
    stream.once('error', onError);
    this.#drainWanted = false;
    const draining: Subscription = conn.mux.draining$.subscribe(() => {
      this.#drainWanted = true;
      this.#maybeHandover();
    });
    this.#detach = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('remoteEnd', onRemoteEnd);
      stream.off('error', onError);
      draining.unsubscribe();
    };
  }

  /** A resumed POST stream delivered the answer: end the client's stream as the original would have ended. */
  #answered(): void {
    this.#detach();
    this.#source?.destroy();
    this.#out?.push(null);
    this.#end();
  }

  /** The current attempt failed: resume it when it can be, else cut the client as before. */
  #failed(stream: MuxStream, err: unknown): void {
    if (stream !== this.#source || this.#ended) return;
    this.#detach();
    const from = this.#cursor.resumeFrom;
    if (from === null || !isResumableFailure(err)) {
      this.#end();
      cutResponse(this.ctx, err);
      return;
    }
    this.ctx.log().info({ [F.code]: (err as { code?: unknown }).code, [F.reason]: describeError(err) }, 'SSE stream lost its tunnel stream; resuming it');
    void this.#resume(err, null);
  }

  /** The connection drains: move the stream to another connection at the next event boundary. */
  #maybeHandover(): void {
    if (this.#handover || this.#ended || this.#source === null || this.#cursor.resumeFrom === null) return;
    this.#handover = true;
    void this.#moveOff(this.#source);
  }

  async #moveOff(old: MuxStream): Promise<void> {
    const from = this.#sourceConn;
    const conn = (from && this.#otherProxy(from)) ?? (await this.#acquire(this.ctx.state.resumeWindowMs).catch(() => null));
    this.#handover = false;
    // Failed meanwhile (then #resume runs), or no other connection in time (then the old one carries on).
    if (conn === null || old !== this.#source || this.#ended) return;
    if (this.#cursor.resumeFrom === null) return; // mid-event now: the next boundary tries again
    this.#detach();
    old.destroy(); // CANCEL: the old connection's drain need not wait for this stream
    this.ctx.log().debug({ [F.connection]: conn.id }, 'connection draining; moving SSE stream to another connection');
    await this.#resume(null, conn);
  }

  /** Re-issues the request from the cursor's position until it resumes, the window passes or the client leaves. */
  async #resume(cause: unknown, first: TunnelConnection | null): Promise<void> {
    const from = this.#cursor.resumeFrom!;
    this.#source = null;
    this.#cursor.restart();
    const windowMs = this.ctx.state.resumeWindowMs;
    const deadline = this.#scheduler.now() + windowMs;
    let conn = first;
    for (let attempt = 1; !this.#ended; attempt++) {
      const left = deadline - this.#scheduler.now();
      const refusal = resumeRefusal(this.deps.state(), this.sessions, this.#identity());
      if (left <= 0 || refusal !== null) return this.#giveUp(cause, refusal ?? `not resumed within limits.resumeWindowMs (${windowMs} ms)`);
      conn ??= await this.#acquire(left).catch(() => null);
      if (this.#ended) return;
      if (conn === null) return this.#giveUp(cause, `no tunnel connection within limits.resumeWindowMs (${windowMs} ms)`);
      const opened = await this.#open(conn, from);
      if ('stream' in opened) return this.#resumed(opened.stream, conn, opened.head, attempt);
      if ('giveUp' in opened) return this.#giveUp(cause, opened.giveUp);
      this.ctx.log().debug({ [F.attempt]: attempt, [F.connection]: conn.id, [F.reason]: opened.retry }, 'SSE resumption attempt failed; retrying');
      conn = null;
      await this.#sleep(Math.min(fullJitterDelay(attempt, RESUME_BACKOFF), Math.max(0, left)));
    }
  }

  #resumed(stream: MuxStream, conn: TunnelConnection, head: ResponseHead, attempt: number): void {
    this.#resumptions++;
    const sid = getHeader(head.headers, 'mcp-session-id');
    if (sid) this.sessions.bind({ server: this.admitted.server.name, tunnelId: conn.tunnelId, connId: conn.id, owner: this.admitted.owner }, sid);
    this.ctx.log().info({ [F.connection]: conn.id, [F.attempt]: attempt, [F.resumptions]: this.#resumptions }, 'SSE stream resumed');
    this.#attach(stream, conn);
    stream.resume();
  }

  /** Opens the resumed GET on `conn` and waits for its head (or failure, or the client leaving). */
  #open(conn: TunnelConnection, lastEventId: string): Promise<Opened> {
    const a = this.admitted;
    const headers = resumeHeaders(requestHeadersForUpstream(fromNodeRawHeaders(this.ctx.req.rawHeaders)), lastEventId, this.#sessionId);
    let stream: MuxStream;
    try {
      stream = conn.mux.openStream({ rid: this.ctx.rid, server: a.server.name, url: a.target.url, method: 'GET', headers }, { endStream: true });
    } catch (err) {
      return Promise.resolve({ retry: describeError(err) });
    }
    return new Promise<Opened>((resolve) => {
      const sub = this.#gone.subscribe({ complete: () => settle({ giveUp: 'client gone' }) });
      const settle = (o: Opened): void => {
        sub.unsubscribe();
        stream.off('error', onError);
        if (!('stream' in o)) stream.destroy();
        resolve(o);
      };
      const onError = (err: unknown): void => settle(isResumableFailure(err) ? { retry: describeError(err) } : { giveUp: describeError(err) });
      stream.once('error', onError);
      stream.once('response', (head: ResponseHead) => {
        const verdict = classifyResumeHead(head.status, head.headers);
        if (verdict === 'resumed') return settle({ stream, head });
        settle(verdict === 'retry' ? { retry: `status ${head.status}` } : { giveUp: `the upstream answered the resumption with status ${head.status}` });
      });
    });
  }

  /**
   * The least loaded usable local connection of another proxy than `from`'s, or null. A draining
   * proxy sends GOAWAY on its connections one after the other: a stream moved to a sibling that has
   * not drained yet would have to move again once its resumption completed, holding that
   * connection's drain for seconds (D64). Same proxy: same name and address.
   */
  #otherProxy(from: TunnelConnection): TunnelConnection | null {
    let best: TunnelConnection | null = null;
    for (const c of this.deps.registry.connections(this.admitted.server.tunnel)) {
      if (!c.mux.canOpenStream || (c.proxyName === from.proxyName && c.remoteAddress === from.remoteAddress)) continue;
      if (!best || c.mux.activeStreams < best.mux.activeStreams) best = c;
    }
    return best;
  }

  #acquire(waitMs: number): Promise<TunnelConnection | null> {
    const a = this.admitted;
    return this.deps.registry.acquire(a.server.tunnel, this.#sessionId, waitMs, this.#gone);
  }

  #sleep(ms: number): Promise<void> {
    return firstValueFrom(timer(ms, this.#scheduler).pipe(map(() => undefined), takeUntil(this.#gone)), { defaultValue: undefined });
  }

  #identity(): ResumeIdentity {
    const a = this.admitted;
    return { server: a.server.name, tunnel: a.server.tunnel, serverUrl: a.server.url, client: a.client, owner: a.owner, sessionId: this.#sessionId };
  }

  /** Resumption failed: the client's stream is cut as an unresumable failure is (never ended as if complete). */
  #giveUp(cause: unknown, why: string): void {
    if (this.#ended) return;
    this.#end();
    this.ctx.audit.fail('TUNNEL_RESUME_FAILED');
    const after = cause === null ? 'its connection drained' : describeError(cause);
    this.ctx.log().warn({ [F.code]: 'TUNNEL_RESUME_FAILED', [F.reason]: `${why} (after: ${after})` }, 'SSE stream could not be resumed; client connection reset');
    this.ctx.res.destroy();
  }

  #clientGone(): void {
    if (this.#ended) return;
    this.#detach();
    this.#source?.destroy();
    this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#gone.next();
    this.#gone.complete();
  }
}
