import { Observable, asyncScheduler, defer, filter, map, merge, take, timer, type SchedulerLike, type Subscription } from '../rx';
import { AuthRevokedError, type DialedSocket } from '../connection';
import { F, type Logger } from '../log';
import { ConnectionClosedError, Multiplexer, drain, type CloseInfo, type DrainResult, type IncomingStream } from '../mux';
import { CloseCode, ErrorCode, closeCodeName, errorCodeName, type PeerSettings } from '../protocol';
import { ProxyReauth, secretId, type ProxySession } from '../session';

/** How long a `reauth_request` may wait for the gateway's verdict before it is logged as unanswered. */
const REAUTH_TIMEOUT_MS = 15_000;

/** One authenticated tunnel connection as the proxy serves it (created by {@link serveConnection}). */
export interface ServedConnection {
  readonly id: string;
  readonly slot: number;
  readonly mux: Multiplexer;
  /** Emits once when the connection has closed. */
  readonly closed$: Observable<CloseInfo>;
  /** True while the gateway may open new streams on it (not draining, not closed). */
  readonly usable: boolean;
  /** Asks the gateway to re-authenticate in-band if this connection is not on the current secret. */
  reauthenticate(): void;
  /** GOAWAY (no new streams), then closes once no stream is in flight (see `drain` in src/mux). Idempotent. */
  drain(reason: string): void;
  /** Closes at once (proxy stopped). Idempotent. */
  close(): void;
}

/**
 * What one connection's chain emits: `connected` once authenticated; `retire` when it must be
 * replaced (the gateway sent GOAWAY, or it reached its maximum age). After `retire` the connection
 * belongs to the slot, which drains it once the replacement is authenticated (make-before-break).
 * The chain errors when the connection closes (reconnect).
 */
export type LinkEvent =
  | { type: 'connected'; connection: ServedConnection }
  | { type: 'retire'; connection: ServedConnection; reason: string; gatewayShutdown: boolean };

/** What every connection of one proxy shares. */
export interface ConnectionContext {
  tunnelId: string;
  url: string;
  local: PeerSettings;
  heartbeatIntervalMs: number;
  /** `maxConnectionAgeMs` (0 = no limit); jittered down by up to 10 % per connection. */
  maxConnectionAgeMs: number;
  /** The secret to use now. */
  secret: () => string;
  /** Serves one stream the gateway opened. */
  serveStream: (incoming: IncomingStream, log: Logger) => void;
  /** Called when a connection opens, changes state (draining) or closes: the proxy's status is recomputed. */
  changed: (conn: ServedConnection, open: boolean) => void;
  /** True once the proxy is closing: no replacement, and new connections get GOAWAY at once. */
  closing: () => boolean;
  log: Logger;
  random: () => number;
  scheduler?: SchedulerLike;
  /** Sees each connection's multiplexer as it is made, before anything uses it (`PipelineTap.observeConnection`). */
  observe?: (mux: Multiplexer, connectionId: string, slot: number) => void;
}

/**
 * Owns one authenticated connection's life: its multiplexer, in-band re-authentication, the
 * replacement triggers (gateway GOAWAY, maximum age), its drain, retirement and close. Emits
 * `connected`, maybe `retire`; errors when the connection closes with a ConnectionClosedError (or
 * AuthRevokedError for a remote 4401) carrying the close code and who closed it, so that the
 * slot's reconnect verdict needs nothing else.
 *
 * Unsubscribing closes the connection, unless it was retired: a retired connection belongs to its
 * slot until it closes, and cleans up after itself then.
 */
export function serveConnection(ctx: ConnectionContext, slot: number, socket: DialedSocket, session: ProxySession, usedSecret: string): Observable<LinkEvent> {
  return defer(() => {
    const log = connectionLog(ctx, session.connectionId, slot);
    const mux = new Multiplexer(socket.transport, { role: 'proxy', local: ctx.local, remote: session.remote, logger: log, heartbeatIntervalMs: ctx.heartbeatIntervalMs, scheduler: ctx.scheduler });
    ctx.observe?.(mux, session.connectionId, slot);
    return serveMux(ctx, slot, mux, session, usedSecret, log);
  });
}

/** The logger of everything about one connection: its life, its multiplexer and its streams. */
function connectionLog(ctx: ConnectionContext, connectionId: string, slot: number): Logger {
  return ctx.log.child({ [F.connection]: connectionId, [F.slot]: slot });
}

/**
 * {@link serveConnection} on a multiplexer made already: everything a connection does after the
 * handshake. Pipeline replay (src/replay/pipeline-connection.ts) runs it on a replayed multiplexer.
 * `connectionLogger`: the connection's logger when the caller made one already (the multiplexer's).
 */
export function serveMux(ctx: ConnectionContext, slot: number, mux: Multiplexer, session: Pick<ProxySession, 'connectionId' | 'version' | 'channelBinding'>, usedSecret: string, connectionLogger?: Logger): Observable<LinkEvent> {
  return new Observable<LinkEvent>((subscriber) => {
    const scheduler = ctx.scheduler ?? asyncScheduler;
    const log = connectionLogger ?? connectionLog(ctx, session.connectionId, slot);
    const reauth = new ProxyReauth({
      channel: mux,
      version: session.version,
      tunnelId: ctx.tunnelId,
      channelBinding: session.channelBinding,
      secret: ctx.secret,
      initialSecret: usedSecret,
      maxControlBytes: ctx.local.maxHeaderBytes,
      logger: log,
      scheduler,
    });
    /** Set when the connection was handed to its slot for replacement: this chain no longer owns it. */
    let retired = false;
    let draining: Subscription | null = null;
    const conn: ServedConnection = {
      id: session.connectionId,
      slot,
      mux,
      closed$: mux.closed$,
      get usable() {
        return !mux.isClosed && !mux.isDraining;
      },
      reauthenticate() {
        if (reauth.secretId !== secretId(ctx.secret())) reauth.request(REAUTH_TIMEOUT_MS);
      },
      drain(reason: string) {
        if (mux.isClosed || draining !== null) return;
        log.info({ [F.reason]: reason, [F.inFlight]: mux.activeStreams }, 'draining tunnel connection (no new requests; in-flight requests finish)');
        const goAway = { code: ErrorCode.NO_ERROR, reason };
        draining = drain(mux, { graceMs: Infinity, goAway, close: { code: CloseCode.GOING_AWAY, reason: 'connection replaced' }, scheduler }).subscribe();
        ctx.changed(conn, true);
      },
      close() {
        mux.close(CloseCode.GOING_AWAY, 'proxy stopping');
      },
    };
    mux.onStream((incoming) => ctx.serveStream(incoming, log));
    const release = (): void => {
      reauth.dispose();
      draining?.unsubscribe();
      ctx.changed(conn, false);
    };
    // Not torn down with this chain once retired: the retired connection still needs its cleanup.
    const closedSub = mux.closed$.subscribe((info) => {
      release();
      const fields = { [F.code]: closeCodeName(info.code), [F.reason]: info.reason, byProxy: info.local };
      if (retired) return log.info(fields, 'replaced tunnel connection closed');
      log.info(fields, 'tunnel connection closed');
      subscriber.error(info.code === CloseCode.AUTH_FAILED && !info.local ? new AuthRevokedError(info.code, info.reason) : new ConnectionClosedError(info.code, info.reason, info.local));
    });
    const retireSub = retirement$(ctx, mux, scheduler).subscribe(({ reason, gatewayShutdown }) => {
      retired = true;
      subscriber.next({ type: 'retire', connection: conn, reason, gatewayShutdown });
    });
    ctx.changed(conn, true);
    log.info({ [F.url]: ctx.url, version: session.version }, 'tunnel connected and authenticated');
    subscriber.next({ type: 'connected', connection: conn });
    // The proxy began draining while this connection was being authenticated.
    if (ctx.closing()) mux.goAway(ErrorCode.SHUTDOWN, 'proxy shutting down');
    // The file changed while this connection was being authenticated with the previous secret.
    conn.reauthenticate();
    return () => {
      retireSub.unsubscribe();
      if (retired) return;
      closedSub.unsubscribe();
      release();
      mux.close(CloseCode.GOING_AWAY, 'proxy stopping');
    };
  });
}

/** Replacement triggers: the gateway drains this connection, or it reached its maximum age. Emits at most once. */
function retirement$(ctx: ConnectionContext, mux: Multiplexer, scheduler: SchedulerLike): Observable<{ reason: string; gatewayShutdown: boolean }> {
  const ageMs = ctx.maxConnectionAgeMs > 0 ? Math.floor(ctx.maxConnectionAgeMs * (0.9 + 0.1 * ctx.random())) : 0;
  const byGateway$ = mux.goAway$.pipe(
    map((g) => ({ reason: `gateway sent GOAWAY (${errorCodeName(g.code)}${g.reason ? `: ${g.reason}` : ''})`, gatewayShutdown: g.code === ErrorCode.SHUTDOWN })),
  );
  const byAge$ = ageMs > 0 ? timer(ageMs, scheduler).pipe(map(() => ({ reason: `connection reached its maximum age (${ageMs} ms)`, gatewayShutdown: false }))) : [];
  return merge(byGateway$, byAge$).pipe(
    filter(() => !ctx.closing() && !mux.isClosed),
    take(1),
  );
}

/** How the proxy's stop drains each open connection: GOAWAY (SHUTDOWN), in-flight requests finish within `graceMs`, then it closes. */
export function stopDrain(conn: Pick<ServedConnection, 'mux'>, graceMs: number, scheduler: SchedulerLike): Observable<DrainResult> {
  return drain(conn.mux, { graceMs, goAway: { code: ErrorCode.SHUTDOWN, reason: 'proxy shutting down' }, close: { code: CloseCode.GOING_AWAY, reason: 'proxy stopping' }, scheduler });
}
