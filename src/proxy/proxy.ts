import { randomUUID } from 'node:crypto';
import { BehaviorSubject, Observable, Subscription, defer, filter, firstValueFrom, map, merge, retry, switchMap, take, timer } from 'rxjs';
import { AuditTrail, auditSink } from '../audit';
import type { ProxyConfig } from '../config/types';
import { DEFAULT_PERMANENT_MAX_MS, DEFAULT_PERMANENT_MIN_MS, dial, fullJitterDelay, permanentDelay, trustedCas, type DialedConnection } from '../connection';
import { createUpstreamDispatcher, type UpstreamDispatcher } from '../dispatch';
import { describeError } from '../errors';
import { F, componentLogger, type Logger } from '../log';
import { ConnectionClosedError, Multiplexer } from '../mux';
import { CloseCode, ErrorCode, FRAME_HEADER_BYTES, PERMANENT_CLOSE_CODES, closeCodeName, type PeerSettings } from '../protocol';
import { ProxyReauth, authenticate, secretId, tlsExporterBinding, type AuthenticatedSession } from '../session';
import { SOFTWARE } from '../version';
import { AuthRevokedError } from './errors';
import { SecretSource } from './secret-source';
import { serveStream } from './serve-stream';

/** How long a `reauth_request` may wait for the gateway's verdict before it is logged as unanswered. */
const REAUTH_TIMEOUT_MS = 15_000;

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
  /**
   * Re-reads `MCP_TUNNEL_SECRET_FILE` now (SIGHUP); if the secret changed, every live connection
   * re-authenticates in-band. The file is also watched, so this is rarely needed.
   */
  reloadSecret(): void;
  /** Drains: tells the gateway to send nothing new, waits up to `graceMs` for in-flight requests, then closes. */
  close(graceMs?: number): Promise<void>;
}

export interface ProxyDeps {
  logger: Logger;
  auditLogger: Logger;
  /** Injectable randomness for backoff (tests). */
  random?: () => number;
  /** Debounce of secret-file change events; default 100 ms. */
  secretWatchDebounceMs?: number;
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

/** Longest `Retry-After` honoured (a gateway cannot park a proxy for longer than a permanent failure does). */
const MAX_RETRY_AFTER_MS = DEFAULT_PERMANENT_MAX_MS;

/** The gateway's `Retry-After` from a refused upgrade (HTTP 429), capped; 0 when there is none. */
function retryAfterMs(err: unknown): number {
  const ms = (err as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : 0;
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
  const reauths = new Set<ProxyReauth>();
  const secrets = new SecretSource({ initial: config.secret, file: config.secretFile, logger, debounceMs: deps.secretWatchDebounceMs });
  subs.add(() => secrets.close());
  /** Asks the gateway to re-authenticate every live connection not yet on the current secret. */
  const reauthenticateAll = (): void => {
    const id = secretId(secrets.current());
    for (const r of reauths) if (r.secretId !== id) r.request(REAUTH_TIMEOUT_MS);
  };
  subs.add(secrets.changes$.subscribe(reauthenticateAll));
  let attempt = 1;

  /** One authenticated connection: serves streams until it closes, then errors so `retry` reconnects. */
  const serve = (conn: DialedConnection, session: AuthenticatedSession, secret: string): Observable<ProxyStatus> =>
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
      const reauth = new ProxyReauth({
        channel: mux,
        version: session.version,
        tunnelId: config.tunnelId,
        channelBinding: session.channelBinding,
        secret: () => secrets.current(),
        initialSecret: secret,
        maxControlBytes: local.maxHeaderBytes,
        logger: log,
      });
      reauths.add(reauth);
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
        reauths.delete(reauth);
        reauth.dispose();
        log.info({ [F.code]: closeCodeName(info.code), [F.reason]: info.reason, byProxy: info.local }, 'tunnel connection closed');
        subscriber.error(
          info.code === CloseCode.AUTH_FAILED && !info.local
            ? new AuthRevokedError(info.code, info.reason)
            : Object.assign(new ConnectionClosedError(info.code, info.reason), { permanent: PERMANENT_CLOSE_CODES.has(info.code) }),
        );
      });
      attempt = 1;
      log.info({ [F.url]: config.url, version: session.version }, 'tunnel connected and authenticated');
      subscriber.next({ state: 'connected', connectionId: session.connectionId });
      // The file changed while this connection was being authenticated with the previous secret.
      if (secretId(secret) !== secretId(secrets.current())) reauth.request(REAUTH_TIMEOUT_MS);
      return () => {
        closedSub.unsubscribe();
        reauths.delete(reauth);
        reauth.dispose();
        live.delete(mux);
        mux.close(CloseCode.GOING_AWAY, 'proxy stopping');
      };
    });

  const session$ = defer(() => {
    status.next({ state: 'connecting', attempt });
    return dial(
      { url: config.url, caFile: config.caFile, pins: config.pins, maxPayload: 256 * 1024 + local.maxFrameSize + local.maxHeaderBytes + 4 * FRAME_HEADER_BYTES, openTimeoutMs: 15_000 },
      ca,
    );
  }).pipe(
    switchMap((conn) => {
      // The secret the proof is computed with (read at that moment, so reconnects use the current one).
      let used = secrets.current();
      return authenticate(conn.transport, {
        tunnelId: config.tunnelId,
        secret: () => (used = secrets.current()),
        local,
        timeoutMs: 15_000,
        tlsExporter: conn.tlsSocket !== null ? tlsExporterBinding(conn.tlsSocket) : null,
        requireChannelBinding: config.requireChannelBinding,
        proxy: { id: proxyId, name: config.name, software: SOFTWARE },
      }).pipe(map((session) => ({ conn, session, secret: used })));
    }),
    switchMap(({ conn, session, secret }) => serve(conn, session, secret)),
    retry({
      resetOnSuccess: true,
      delay: (err: unknown, count: number) => {
        const permanent = isPermanent(err);
        const delayMs = permanent
          ? permanentDelay({ permanentMinMs: DEFAULT_PERMANENT_MIN_MS, permanentMaxMs: DEFAULT_PERMANENT_MAX_MS }, random)
          : Math.max(fullJitterDelay(count, config.reconnect, random), retryAfterMs(err));
        const code = (err as { code?: string }).code ?? 'TUNNEL_ERROR';
        const fields = { [F.code]: code, [F.reason]: describeError(err), attempt: count, delayMs, permanent };
        if (permanent) connLog.error(fields, 'tunnel connection refused permanently; retrying slowly');
        else connLog.warn(fields, 'tunnel connection lost or failed; reconnecting');
        attempt = count + 1;
        status.next({ state: 'waiting', attempt: count, delayMs, error: describeError(err), code, permanent });
        // A new secret may be exactly what the permanent failure was waiting for: try it at once.
        return permanent ? merge(timer(delayMs), secrets.changes$).pipe(take(1)) : timer(delayMs);
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
    reloadSecret: () => secrets.reload('SIGHUP'),
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
