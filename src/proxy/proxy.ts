import { randomUUID } from 'node:crypto';
import { BehaviorSubject, Observable, Subscription, defer, filter, firstValueFrom, interval, map, merge, race, startWith, switchMap, take, timer } from 'rxjs';
import { AuditTrail, auditSink } from '../audit';
import type { ProxyConfig } from '../config/types';
import { dial, trustedCas, type DialedConnection } from '../connection';
import { createUpstreamDispatcher, type UpstreamDispatcher } from '../dispatch';
import { describeError } from '../errors';
import { F, componentLogger, type Logger } from '../log';
import { ConnectionClosedError, Multiplexer } from '../mux';
import { CloseCode, ErrorCode, FRAME_HEADER_BYTES, PERMANENT_CLOSE_CODES, closeCodeName, errorCodeName, receiveSettings, type PeerSettings } from '../protocol';
import { ProxyReauth, authenticate, secretId, tlsExporterBinding, type AuthenticatedSession } from '../session';
import { SOFTWARE } from '../version';
import { AuthRevokedError } from './errors';
import { SecretSource } from './secret-source';
import { runSlot, type LinkEvent, type ServedConnection, type SlotStatus } from './slot';
import { serveStream } from './serve-stream';

/** How long a `reauth_request` may wait for the gateway's verdict before it is logged as unanswered. */
const REAUTH_TIMEOUT_MS = 15_000;
/** How often a draining connection is checked for its last stream (the multiplexer has no idle event). */
const DRAIN_POLL_MS = 50;

/**
 * What the proxy is doing, for health checks, logs and tests. With several `connections` this is the
 * aggregate: `connected` while at least one authenticated connection is open (`connectionId` is the
 * newest one that takes new requests, else the newest open one; `connections` counts those that
 * take new requests, 0 for the moment a drained connection is being replaced); otherwise the latest
 * state of a slot (`slot` says which).
 */
export type ProxyStatus =
  | { state: 'connecting'; attempt: number; slot?: number }
  | { state: 'connected'; connectionId: string; connections?: number }
  | { state: 'waiting'; attempt: number; delayMs: number; error: string; code: string; permanent: boolean; slot?: number }
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
  return receiveSettings(c.flow, c.limits);
}

/**
 * Starts the proxy: keep `config.connections` authenticated tunnel connections to the gateway,
 * serve the streams that arrive on any of them by calling internal MCP servers, and reconnect each
 * with its own full-jitter backoff whenever it ends. Returns at once; connections are made in the
 * background.
 *
 * Each connection is one RxJS chain, `defer(dial) → switchMap(authenticate) → switchMap(serve)`,
 * retried with backoff (`slot.ts`); the chains are merged. A connection the gateway drains (GOAWAY)
 * or that reached `maxConnectionAgeMs` is replaced make-before-break: the new one is authenticated
 * before the old one stops taking requests, and the old one closes once its streams are done.
 */
export function startProxy(config: ProxyConfig, deps: ProxyDeps): RunningProxy {
  const logger = componentLogger(deps.logger, 'proxy', { [F.tunnel]: config.tunnelId });
  const connLog = componentLogger(deps.logger, 'connection', { [F.tunnel]: config.tunnelId });
  const random = deps.random ?? Math.random;
  const dispatcher: UpstreamDispatcher = createUpstreamDispatcher(config.upstream, deps.logger);
  const dispatchLog = componentLogger(deps.logger, 'dispatch');
  const trail = new AuditTrail(logger);
  const subs = new Subscription();
  subs.add(auditSink(trail.records$, deps.auditLogger, logger).subscribe());
  const ca = trustedCas(config.caFile);
  const local = localSettings(config);
  const proxyId = randomUUID();
  const slotCount = Math.max(1, config.connections);
  const status = new BehaviorSubject<ProxyStatus>({ state: 'connecting', attempt: 1 });
  const inFlight = new Set<Promise<void>>();
  /** Every connection from authentication until it closes, including retired ones still draining. */
  const connections = new Set<ServedConnection>();
  const reauths = new Set<ProxyReauth>();
  const secrets = new SecretSource({ initial: config.secret, file: config.secretFile, logger, debounceMs: deps.secretWatchDebounceMs });
  subs.add(() => secrets.close());
  /** Asks the gateway to re-authenticate every live connection not yet on the current secret. */
  const reauthenticateAll = (): void => {
    const id = secretId(secrets.current());
    for (const r of reauths) if (r.secretId !== id) r.request(REAUTH_TIMEOUT_MS);
  };
  subs.add(secrets.changes$.subscribe(reauthenticateAll));
  let closing = false;

  const slotStates: SlotStatus[] = Array.from({ length: slotCount }, () => ({ state: 'connecting', attempt: 1 }));
  let lastSlot = 0;
  /** Recomputes the aggregate status; emits only when it changed. */
  const publish = (): void => {
    if (status.closed || status.value.state === 'stopped') return;
    const open = [...connections].filter((c) => !c.mux.isClosed);
    const usable = open.filter((c) => c.usable);
    // A connection being replaced still counts as up (its streams are served) until it closes.
    const newest = usable[usable.length - 1] ?? open[open.length - 1];
    let next: ProxyStatus;
    if (newest) next = { state: 'connected', connectionId: newest.id, connections: usable.length };
    else {
      const s = slotStates[lastSlot] ?? { state: 'connecting', attempt: 1 };
      next = s.state === 'connected' ? { state: 'connecting', attempt: 1, slot: lastSlot } : { ...s, slot: lastSlot };
    }
    if (JSON.stringify(next) !== JSON.stringify(status.value)) status.next(next);
  };

  /** One authenticated connection: serves streams until it closes, then errors so the slot reconnects. */
  const serve = (slot: number, conn: DialedConnection, session: AuthenticatedSession, secret: string): Observable<LinkEvent> =>
    new Observable<LinkEvent>((subscriber) => {
      const log = connLog.child({ [F.connection]: session.connectionId, [F.slot]: slot });
      const mux = new Multiplexer(conn.transport, {
        role: 'proxy',
        local,
        remote: session.remote,
        logger: log,
        heartbeatIntervalMs: config.heartbeat.intervalMs,
      });
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
      /** Set when the connection was handed to its slot for replacement: this chain no longer owns it. */
      let retired = false;
      let drainSub: Subscription | null = null;
      const served: ServedConnection = {
        id: session.connectionId,
        slot,
        mux,
        closed$: mux.closed$,
        get usable() {
          return !mux.isClosed && !mux.isDraining;
        },
        drain(reason: string) {
          if (mux.isClosed || drainSub !== null) return;
          log.info({ [F.reason]: reason, [F.inFlight]: mux.activeStreams }, 'draining tunnel connection (no new requests; in-flight requests finish)');
          mux.goAway(ErrorCode.NO_ERROR, reason);
          publish();
          drainSub = interval(DRAIN_POLL_MS)
            .pipe(
              // The fence: only once the gateway has read our GOAWAY can "no streams" mean drained.
              filter(() => mux.isClosed || (mux.goAwayAcknowledged && mux.activeStreams === 0)),
              take(1),
            )
            .subscribe(() => mux.close(CloseCode.GOING_AWAY, 'connection replaced'));
        },
        close() {
          mux.close(CloseCode.GOING_AWAY, 'proxy stopping');
        },
      };
      connections.add(served);
      mux.onStream(({ stream, head }) => {
        const p = serveStream(stream, head, { dispatcher, tunnelId: config.tunnelId, audit: trail, logger: dispatchLog }).catch((err: unknown) => {
          log.error({ [F.err]: describeError(err) }, 'unexpected error serving a stream');
          stream.resetWith(ErrorCode.INTERNAL_ERROR, 'internal proxy error');
        });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      });
      const release = (): void => {
        connections.delete(served);
        reauths.delete(reauth);
        reauth.dispose();
        drainSub?.unsubscribe();
        publish();
      };
      // Not torn down with this chain once retired: the retired connection still needs its cleanup.
      const closedSub = mux.closed$.subscribe((info) => {
        release();
        const fields = { [F.code]: closeCodeName(info.code), [F.reason]: info.reason, byProxy: info.local };
        if (retired) {
          log.info(fields, 'replaced tunnel connection closed');
          return;
        }
        log.info(fields, 'tunnel connection closed');
        subscriber.error(
          info.code === CloseCode.AUTH_FAILED && !info.local
            ? new AuthRevokedError(info.code, info.reason)
            : Object.assign(new ConnectionClosedError(info.code, info.reason), { permanent: PERMANENT_CLOSE_CODES.has(info.code), local: info.local }),
        );
      });
      // Replacement triggers: the gateway drains this connection, or it reached its maximum age.
      const ageMs = config.maxConnectionAgeMs > 0 ? Math.floor(config.maxConnectionAgeMs * (0.9 + 0.1 * random())) : 0;
      const retire$ = merge(
        mux.goAway$.pipe(
          map((g) => ({ reason: `gateway sent GOAWAY (${errorCodeName(g.code)}${g.reason ? `: ${g.reason}` : ''})`, gatewayShutdown: g.code === ErrorCode.SHUTDOWN })),
        ),
        ageMs > 0 ? timer(ageMs).pipe(map(() => ({ reason: `connection reached its maximum age (${ageMs} ms)`, gatewayShutdown: false }))) : [],
      ).pipe(
        filter(() => !closing && !mux.isClosed),
        take(1),
      );
      const retireSub = retire$.subscribe(({ reason, gatewayShutdown }) => {
        retired = true;
        subscriber.next({ type: 'retire', connection: served, reason, gatewayShutdown });
      });
      log.info({ [F.url]: config.url, version: session.version }, 'tunnel connected and authenticated');
      subscriber.next({ type: 'connected', connection: served });
      // The proxy began draining while this connection was being authenticated.
      if (closing) mux.goAway(ErrorCode.SHUTDOWN, 'proxy shutting down');
      // The file changed while this connection was being authenticated with the previous secret.
      if (secretId(secret) !== secretId(secrets.current())) reauth.request(REAUTH_TIMEOUT_MS);
      return () => {
        retireSub.unsubscribe();
        if (retired) return;
        closedSub.unsubscribe();
        release();
        mux.close(CloseCode.GOING_AWAY, 'proxy stopping');
      };
    });

  /** One connection attempt: dial, authenticate, serve. */
  const connect = (slot: number): Observable<LinkEvent> =>
    defer(() =>
      dial(
        { url: config.url, caFile: config.caFile, pins: config.pins, maxPayload: 256 * 1024 + local.maxFrameSize + local.maxHeaderBytes + 4 * FRAME_HEADER_BYTES, openTimeoutMs: 15_000 },
        ca,
      ),
    ).pipe(
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
      switchMap(({ conn, session, secret }) => serve(slot, conn, session, secret)),
    );

  const slots$ = merge(
    ...slotStates.map((_, slot) =>
      runSlot({
        slot,
        connect: () => connect(slot),
        reconnect: config.reconnect,
        secretChanges$: secrets.changes$,
        closing: () => closing,
        log: connLog,
        random,
      }),
    ),
  );
  subs.add(
    slots$.subscribe((u) => {
      if ('status' in u) {
        slotStates[u.slot] = u.status;
        lastSlot = u.slot;
      }
      publish();
    }),
  );
  // Retired connections outlive their chain; whatever is still open when the proxy stops is closed here.
  subs.add(() => {
    for (const c of [...connections]) c.close();
  });
  if (slotCount > 1) logger.info({ connections: slotCount }, 'keeping several tunnel connections');

  const ready = firstValueFrom(status.pipe(filter((s) => s.state === 'connected' || s.state === 'stopped'))).then((s) => {
    if (s.state === 'stopped') throw new Error('proxy stopped before it connected');
  });
  ready.catch(() => undefined); // callers that await it see the rejection; nobody else must crash on it
  let closed: Promise<void> | null = null;
  return {
    status$: status.asObservable(),
    ready,
    reloadSecret: () => secrets.reload('SIGHUP'),
    close(graceMs = config.drainGraceMs) {
      closed ??= (async () => {
        closing = true;
        logger.info({ graceMs, [F.inFlight]: inFlight.size, connections: connections.size }, 'proxy draining');
        for (const c of connections) c.mux.goAway(ErrorCode.SHUTDOWN, 'proxy shutting down');
        const streamsOpen = (): number => [...connections].reduce((n, c) => n + (c.mux.isClosed ? 0 : c.mux.activeStreams), 0);
        // Idle only once the gateway has read every GOAWAY: a request it sent just before would
        // otherwise arrive after we closed, and fail with 502 instead of being served.
        const fenced = (): boolean => [...connections].every((c) => c.mux.isClosed || c.mux.goAwayAcknowledged);
        const drained = await waitForIdle(() => fenced() && inFlight.size === 0 && streamsOpen() === 0, graceMs);
        const stillBusy = Math.max(inFlight.size, streamsOpen());
        // Only a request actually cut is worth a warning (with no grace, the GOAWAY fence alone can "time out").
        if (!drained && stillBusy > 0) logger.warn({ [F.inFlight]: stillBusy, graceMs }, 'drain grace period over; cutting the requests still in flight');
        subs.unsubscribe();
        status.next({ state: 'stopped' });
        status.complete();
        trail.complete();
        await dispatcher.close();
        logger.info('proxy stopped');
      })();
      return closed;
    },
  };
}

/**
 * Resolves `true` once `idle()` holds (checked every {@link DRAIN_POLL_MS}), or `false` after `graceMs`.
 * Polled, not event-driven: "served" means the upstream call ended *and* the multiplexer sent the
 * stream's last frame, and only the multiplexer knows the latter.
 */
function waitForIdle(idle: () => boolean, graceMs: number): Promise<boolean> {
  return firstValueFrom(
    race(
      interval(DRAIN_POLL_MS).pipe(
        startWith(0),
        filter(idle),
        map(() => true),
      ),
      timer(graceMs).pipe(map(() => false)),
    ),
  );
}
