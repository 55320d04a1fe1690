import { randomUUID } from 'node:crypto';
import { BehaviorSubject, Observable, Subscription, defer, filter, firstValueFrom, map, retry, switchMap, timer } from 'rxjs';
import { AuditTrail, auditSink } from '../audit';
import type { ProxyConfig } from '../config/types';
import { DEFAULT_PERMANENT_MAX_MS, DEFAULT_PERMANENT_MIN_MS, dial, fullJitterDelay, permanentDelay, trustedCas, type DialedConnection } from '../connection';
import { createUpstreamDispatcher, type UpstreamDispatcher } from '../dispatch';
import { describeError } from '../errors';
import { F, componentLogger, type Logger } from '../log';
import { ConnectionClosedError, Multiplexer } from '../mux';
import { CloseCode, ErrorCode, FRAME_HEADER_BYTES, PERMANENT_CLOSE_CODES, closeCodeName, type PeerSettings } from '../protocol';
import { authenticate, type AuthenticatedSession } from '../session';
import { SOFTWARE } from '../version';
import { serveStream } from './serve-stream';

/** What the proxy is doing, for health checks, logs and tests. */
export type ProxyStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected'; connectionId: string }
  | { state: 'waiting'; attempt: number; delayMs: number; error: string; code: string; permanent: boolean }
  | { state: 'stopped' };

export interface RunningProxy {
  /** Current status; replays the latest to new subscribers. */
  readonly status$: Observable<ProxyStatus>;
  /** Resolves when a connection is first authenticated. */
  readonly ready: Promise<void>;
  /** Drains: tells the gateway to send nothing new, waits up to `graceMs` for in-flight requests, then closes. */
  close(graceMs?: number): Promise<void>;
}

export interface ProxyDeps {
  logger: Logger;
  auditLogger: Logger;
  /** Injectable randomness for backoff (tests). */
  random?: () => number;
}

function localSettings(c: ProxyConfig): PeerSettings {
  return {
    maxFrameSize: c.flow.maxFrameSize,
    streamWindow: c.flow.streamWindow,
    connectionWindow: c.flow.connectionWindow,
    maxStreams: c.limits.maxStreams,
    maxHeaderBytes: c.limits.maxHeaderBytes,
  };
}

function isPermanent(err: unknown): boolean {
  if ((err as { permanent?: boolean }).permanent === true) return true;
  const closeCode = (err as { closeCode?: number }).closeCode;
  return typeof closeCode === 'number' && PERMANENT_CLOSE_CODES.has(closeCode);
}

/**
 * Starts the proxy: dial the gateway, authenticate, serve the streams that arrive by calling
 * internal MCP servers, and reconnect with full-jitter backoff whenever the connection ends.
 * Returns at once; the connection is made in the background.
 *
 * The pipeline is one RxJS chain: `defer(dial) → switchMap(authenticate) → switchMap(serve)`,
 * retried with backoff. `resetOnSuccess` resets the attempt count only once a session is
 * authenticated, never on a bare TCP connect.
 */
export function startProxy(config: ProxyConfig, deps: ProxyDeps): RunningProxy {
  const logger = componentLogger(deps.logger, 'proxy', { [F.tunnel]: config.tunnelId });
  const connLog = componentLogger(deps.logger, 'connection', { [F.tunnel]: config.tunnelId });
  const random = deps.random ?? Math.random;
  const dispatcher: UpstreamDispatcher = createUpstreamDispatcher(config.upstream, deps.logger);
  const trail = new AuditTrail(logger);
  const subs = new Subscription();
  subs.add(auditSink(trail.records$, deps.auditLogger, logger).subscribe());
  const ca = trustedCas(config.caFile);
  const local = localSettings(config);
  const proxyId = randomUUID();
  const status = new BehaviorSubject<ProxyStatus>({ state: 'connecting', attempt: 1 });
  const inFlight = new Set<Promise<void>>();
  const live = new Set<Multiplexer>();
  let attempt = 1;

  /** One authenticated connection: serves streams until it closes, then errors so `retry` reconnects. */
  const serve = (conn: DialedConnection, session: AuthenticatedSession): Observable<ProxyStatus> =>
    new Observable<ProxyStatus>((subscriber) => {
      const log = connLog.child({ [F.connection]: session.connectionId });
      const mux = new Multiplexer(conn.transport, {
        role: 'proxy',
        local,
        remote: session.remote,
        logger: log,
        heartbeatIntervalMs: config.heartbeat.intervalMs,
      });
      live.add(mux);
      mux.onStream(({ stream, head }) => {
        const p = serveStream(stream, head, { dispatcher, tunnelId: config.tunnelId, audit: trail, logger: componentLogger(deps.logger, 'dispatch') }).catch(
          (err: unknown) => {
            log.error({ [F.err]: describeError(err) }, 'unexpected error serving a stream');
            stream.resetWith(ErrorCode.INTERNAL_ERROR, 'internal proxy error');
          },
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      });
      const closedSub = mux.closed$.subscribe((info) => {
        live.delete(mux);
        log.info({ [F.code]: closeCodeName(info.code), [F.reason]: info.reason, byProxy: info.local }, 'tunnel connection closed');
        subscriber.error(Object.assign(new ConnectionClosedError(info.code, info.reason), { permanent: PERMANENT_CLOSE_CODES.has(info.code) }));
      });
      attempt = 1;
      log.info({ [F.url]: config.url, version: session.version }, 'tunnel connected and authenticated');
      subscriber.next({ state: 'connected', connectionId: session.connectionId });
      return () => {
        closedSub.unsubscribe();
        live.delete(mux);
        mux.close(CloseCode.GOING_AWAY, 'proxy stopping');
      };
    });

  const session$ = defer(() => {
    status.next({ state: 'connecting', attempt });
    return dial({ url: config.url, caFile: config.caFile, maxPayload: 256 * 1024 + local.maxFrameSize + local.maxHeaderBytes + 4 * FRAME_HEADER_BYTES, openTimeoutMs: 15_000 }, ca);
  }).pipe(
    switchMap((conn) =>
      authenticate(conn.transport, {
        tunnelId: config.tunnelId,
        secret: () => config.secret,
        local,
        timeoutMs: 15_000,
        channelBinding: '',
        proxy: { id: proxyId, name: config.name, software: SOFTWARE },
      }).pipe(map((session) => ({ conn, session }))),
    ),
    switchMap(({ conn, session }) => serve(conn, session)),
    retry({
      resetOnSuccess: true,
      delay: (err: unknown, count: number) => {
        const permanent = isPermanent(err);
        const delayMs = permanent
          ? permanentDelay({ permanentMinMs: DEFAULT_PERMANENT_MIN_MS, permanentMaxMs: DEFAULT_PERMANENT_MAX_MS }, random)
          : fullJitterDelay(count, config.reconnect, random);
        const code = (err as { code?: string }).code ?? 'TUNNEL_ERROR';
        const fields = { [F.code]: code, [F.reason]: describeError(err), attempt: count, delayMs, permanent };
        if (permanent) connLog.error(fields, 'tunnel connection refused permanently; retrying slowly');
        else connLog.warn(fields, 'tunnel connection lost or failed; reconnecting');
        attempt = count + 1;
        status.next({ state: 'waiting', attempt: count, delayMs, error: describeError(err), code, permanent });
        return timer(delayMs);
      },
    }),
  );
  subs.add(session$.subscribe({ next: (s) => status.next(s) }));

  const ready = firstValueFrom(status.pipe(filter((s) => s.state === 'connected' || s.state === 'stopped'))).then((s) => {
    if (s.state === 'stopped') throw new Error('proxy stopped before it connected');
  });
  ready.catch(() => undefined); // callers that await it see the rejection; nobody else must crash on it
  let closing: Promise<void> | null = null;
  return {
    status$: status.asObservable(),
    ready,
    close(graceMs = 30_000) {
      closing ??= (async () => {
        logger.info({ graceMs, inFlight: inFlight.size }, 'proxy draining');
        for (const m of live) m.goAway(ErrorCode.SHUTDOWN, 'proxy shutting down');
        if (inFlight.size > 0) {
          let t: NodeJS.Timeout | undefined;
          await Promise.race([Promise.allSettled([...inFlight]), new Promise<void>((r) => (t = setTimeout(r, graceMs)))]);
          clearTimeout(t);
        }
        subs.unsubscribe();
        status.next({ state: 'stopped' });
        status.complete();
        trail.complete();
        await dispatcher.close();
        logger.info('proxy stopped');
      })();
      return closing;
    },
  };
}
