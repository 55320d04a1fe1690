/**
 * The exchange step: take a tunnel connection, open one stream, pump the request body in and the
 * response out (./relay.ts), and react to the four things that can happen — the response head,
 * a stream failure, the client leaving, the body growing past its limit — from one explicit
 * {@link Phase}. Every answer the gateway writes itself comes from ./respond.ts.
 */
import { fromEvent } from '../../rx';
import { describeError } from '../../errors';
import { fromNodeRawHeaders, requestHeadersForUpstream } from '../../http';
import { F } from '../../log';
import type { MuxStream } from '../../mux';
import type { ResponseHead } from '../../protocol';
import { BodyDigest, pumpRequestBody } from '../body';
import { GatewayError } from '../errors';
import { endRequestWithResponse } from '../stream-lifecycle';
import type { TunnelConnection } from '../tunnels';
import type { Admitted } from './admit';
import type { ForwardDeps, RequestContext } from './context';
import { clientHead, relayResponse, type RelayPlan } from './relay';
import { answerFailure, answerTooLarge, asGatewayError, cutResponse, reject } from './respond';

/**
 * Where an exchange stands. Each event handler reads it once; only the handlers move it forward
 * (awaiting-head → responding | body-refused → over), and `over` is final.
 *
 * - `awaiting-head`: the stream is open, no response head yet: a failure is answered with an HTTP error;
 * - `body-refused`: the body grew past its limit first: 413 sent, the stream reset;
 * - `responding`: the head went to the client: a failure cuts the client's connection;
 * - `over`: the response finished, failed or the client left; later events change nothing.
 */
type Phase = 'awaiting-head' | 'body-refused' | 'responding' | 'over';

/**
 * Takes a connection of the server's tunnel (waiting a bounded time, cancelled when the client
 * leaves) and opens the request's stream on it. Null when the request was answered (or the client
 * left) instead; the audit record is then finished.
 */
export async function openExchange(ctx: RequestContext, a: Admitted, deps: ForwardDeps): Promise<{ conn: TunnelConnection; stream: MuxStream } | null> {
  const { req, res, audit } = ctx;
  let conn: TunnelConnection | null;
  try {
    conn = await deps.registry.acquire(a.server.tunnel, a.target.sessionKey, ctx.state.connectWaitMs, fromEvent(res, 'close'));
  } catch (err) {
    reject(ctx, asGatewayError(err));
    return null;
  }
  if (!conn) {
    audit.abort('TUNNEL_CLIENT_GONE');
    audit.finish();
    return null;
  }
  // A cluster hop is recorded as `{conn}@{replica}` (docs/cluster.md): which replica carried it.
  audit.annotate({ conn: conn.via === undefined ? conn.id : `${conn.id}@${conn.via}` });
  try {
    const head = { rid: ctx.rid, server: a.server.name, url: a.target.url, method: req.method ?? 'GET', headers: requestHeadersForUpstream(fromNodeRawHeaders(req.rawHeaders)) };
    return { conn, stream: conn.mux.openStream(head, { endStream: a.admission.body.kind === 'none' }) };
  } catch (err) {
    reject(ctx, new GatewayError('TUNNEL_STREAM_REFUSED', `tunnel connection refused the request: ${describeError(err)}`));
    return null;
  }
}

/** One request's exchange on an open stream; {@link Exchange.run} resolves once it is over. */
export class Exchange {
  #phase: Phase = 'awaiting-head';
  #resolve: () => void = () => undefined;

  constructor(
    private readonly ctx: RequestContext,
    private readonly stream: MuxStream,
    private readonly plan: RelayPlan,
    /** Called once when the exchange is over (capacity may have freed on the connection). */
    private readonly onOver: () => void,
  ) {}

  /** Wires the events and starts the request body; resolves when the exchange is over. */
  run(): Promise<void> {
    const { req, res } = this.ctx;
    const done = new Promise<void>((resolve) => (this.#resolve = resolve));
    this.stream.once('response', (head: ResponseHead) => this.#onHead(head));
    this.stream.once('error', (err: unknown) => this.#onStreamError(err));
    res.once('close', () => this.#onClientClose());
    const { admission, limit } = this.plan.admitted;
    if (admission.body.kind === 'none') return done;
    const digest = new BodyDigest('request', this.ctx.state.auditBodies);
    pumpRequestBody({ req, stream: this.stream, body: admission.body, limit, digest, audit: this.ctx.audit, onTooLarge: () => this.#onBodyTooLarge() });
    if (this.plan.piped) {
      endRequestWithResponse(req, this.stream, () => this.ctx.log().debug({ [F.reason]: 'response complete first' }, 'request body cut short; client connection will close'));
    }
    return done;
  }

  #over(): void {
    if (this.#phase === 'over') return;
    this.#phase = 'over';
    this.onOver();
    this.#resolve();
  }

  /** The bytes the client got: counted once, when the response direction ends. */
  #countBytesOut(): void {
    const resume = this.plan.resume;
    this.ctx.audit.addBytesOut(resume?.active ? resume.bytesOut : this.stream.bytesReceived);
  }

  #onHead(head: ResponseHead): void {
    if (this.#phase !== 'awaiting-head' || this.ctx.res.destroyed) {
      this.stream.destroy();
      return this.#over();
    }
    const headers = clientHead(this.ctx, head, this.plan.piped);
    // A head Node would refuse: fail the stream, answered as a 502 by #onStreamError.
    if (!Array.isArray(headers)) return void this.stream.destroy(headers);
    this.#phase = 'responding';
    this.ctx.res.once('finish', () => {
      this.#countBytesOut();
      this.#over();
    });
    relayResponse(this.ctx, this.stream, head, headers, this.plan);
  }

  #onStreamError(err: unknown): void {
    // Resumption hook: a resumable response's stream failures are handled in src/gateway/resume/.
    if (this.#phase === 'responding' && this.plan.resume?.active) return;
    if (this.#phase === 'responding') {
      this.#countBytesOut();
      cutResponse(this.ctx, err);
    } else if (this.#phase === 'awaiting-head') {
      if (this.ctx.res.destroyed) this.ctx.audit.abort('TUNNEL_CLIENT_GONE');
      else answerFailure(this.ctx, err);
    }
    this.#over();
  }

  #onClientClose(): void {
    if (this.#phase === 'over') return;
    if (!this.ctx.res.writableFinished) {
      this.#countBytesOut();
      this.ctx.audit.abort('TUNNEL_CLIENT_GONE');
      this.stream.destroy();
    }
    this.#over();
  }

  #onBodyTooLarge(): void {
    this.stream.destroy();
    if (this.#phase !== 'awaiting-head') return;
    this.#phase = 'body-refused';
    answerTooLarge(this.ctx, this.plan.admitted.limit.tooLarge());
  }
}
