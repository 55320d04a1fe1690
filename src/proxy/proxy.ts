import { randomUUID } from 'node:crypto';
import { Observable, Subscription, asyncScheduler, defer, filter, finalize, firstValueFrom, tap, forkJoin, lastValueFrom, map, merge, of, switchMap, type SchedulerLike } from '../rx';
import { AuditTrail, auditSink } from '../audit';
import type { ProxyConfig } from '../config/types';
import { DEFAULT_PROXY_HANDSHAKE_TIMEOUT_MS } from '../config/constants';
import { dial, trustedCas } from '../connection';
import { createUpstreamDispatcher } from '../dispatch';
import { F, componentLogger, type Logger } from '../log';
import { FRAME_HEADER_BYTES, receiveSettings, type PeerSettings } from '../protocol';
import { authenticate, tlsExporterBinding } from '../session';
import { settledWithin } from '../time';
// The ops parts by file, not through '../ops': prom-client loads only with an ops listener (D34).
import type { Metrics } from '../ops';
import { meterProxy } from '../ops/component-metrics';
import { meterRecorder } from '../ops/record-metrics';
import { SOFTWARE } from '../version';
import { SecretSource } from './secret-source';
import { InFlightStreams } from './in-flight';
import { serveConnection, stopDrain, type ConnectionContext, type LinkEvent, type ServedConnection } from './served-connection';
import { ReplicaSpread } from './replica-spread';
import { runSlot } from './slot';
import { proxyRecorder } from './record-tap';
import type { ServeStreamDeps } from './serve-stream';
import type { PipelineTap, Recorder } from '../replay';
import { ProxyStatusBoard, type ProxyStatus } from './status';

export type { ProxyStatus } from './status';

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
  /** Feeds these metrics (requests, connections, reconnects, auth failures); absent: no metrics work at all. */
  metrics?: Metrics;
  /** Injectable randomness for backoff (tests). */
  random?: () => number;
  /** Debounce of secret-file change events; default 100 ms. */
  secretWatchDebounceMs?: number;
  /** Time for backoff, heartbeats, connection age, re-authentication deadlines and drains (default `asyncScheduler`). */
  scheduler?: SchedulerLike;
  /** A recorder to use instead of opening `config.record`; the proxy closes it when it stops. */
  recorder?: Recorder;
  /** Records the slots' inputs and decisions for deterministic replay (docs/replay.md); tests and the fixture script. */
  pipelineTap?: PipelineTap;
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
 * Each connection is one RxJS chain, `defer(dial) → switchMap(authenticate) → switchMap(serveConnection)`,
 * retried and replaced by its slot (`slot.ts`); the slots are merged. See docs/architecture.md,
 * "The proxy's lifecycle".
 */
export function startProxy(config: ProxyConfig, deps: ProxyDeps): RunningProxy {
  const logger = componentLogger(deps.logger, 'proxy', { [F.tunnel]: config.tunnelId });
  const connLog = componentLogger(deps.logger, 'connection', { [F.tunnel]: config.tunnelId });
  const scheduler = deps.scheduler ?? asyncScheduler;
  const random = deps.random ?? Math.random;
  const dispatcher = createUpstreamDispatcher(config.upstream, deps.logger);
  const trail = new AuditTrail(logger);
  const streamDeps: ServeStreamDeps = { dispatcher, tunnelId: config.tunnelId, audit: trail, logger: componentLogger(deps.logger, 'dispatch'), recorder: deps.recorder };
  const streams = new InFlightStreams(streamDeps);
  // Recording (docs/replay.md): when the proxy opens the file itself, connections are dialled once it is open.
  const opening = proxyRecorder(deps.recorder, config, logger)?.then((r) => (streamDeps.recorder = r));
  const connectSlot = (slot: number): Observable<LinkEvent> => (opening === undefined ? connect(slot) : defer(() => opening).pipe(switchMap(() => connect(slot))));
  const subs = new Subscription();
  subs.add(auditSink(trail.records$, deps.auditLogger, logger, trail.writeFailed).subscribe());
  const slotCount = Math.max(1, config.connections);
  const board = new ProxyStatusBoard(slotCount);
  const secrets = new SecretSource({ initial: config.secret, file: config.secretFile, logger, debounceMs: deps.secretWatchDebounceMs });
  subs.add(() => secrets.close());
  subs.add(secrets.changes$.subscribe(() => board.forEachOpen((c) => c.reauthenticate())));
  if (deps.metrics) subs.add(meterProxy(deps.metrics, { trail, tunnelId: config.tunnelId, counts: () => board.counts(), slotStatus$: board.slotStatus$, secret: () => secrets.current() }));
  let closing = false;

  const ctx: ConnectionContext = {
    tunnelId: config.tunnelId,
    url: config.url,
    local: localSettings(config),
    heartbeatIntervalMs: config.heartbeat.intervalMs,
    maxConnectionAgeMs: config.maxConnectionAgeMs,
    secret: () => secrets.current(),
    serveStream: streams.serve,
    changed: (conn, open) => board.connectionChanged(conn, open),
    closing: () => closing,
    log: connLog,
    random,
    scheduler,
    observe: deps.pipelineTap?.observeConnection,
  };
  const connect = connector(config, ctx, randomUUID());
  const run = deps.pipelineTap?.wrap(runSlot) ?? runSlot;
  const slots = Array.from({ length: slotCount }, (_, slot) =>
    run({ slot, connect: () => connectSlot(slot), reconnect: config.reconnect, secretChanges$: secrets.changes$, closing: () => closing, log: connLog, random, scheduler }),
  );
  subs.add(merge(...slots).subscribe((u) => board.slotChanged(u)));
  // Retired connections outlive their chain; whatever is still open when the proxy stops is closed here.
  subs.add(() => board.forEachOpen((c) => c.close()));
  if (deps.metrics && (deps.recorder || opening)) subs.add(meterRecorder(deps.metrics, () => streamDeps.recorder?.stats()));
  if (slotCount > 1) logger.info({ connections: slotCount }, 'keeping several tunnel connections');

  /** Drains every connection (GOAWAY, in-flight requests finish within the grace), then stops everything. */
  const stop = async (graceMs: number): Promise<void> => {
    closing = true;
    deps.pipelineTap?.stopping(graceMs);
    await drainConnections(board.openConnections(), streams, { graceMs, scheduler, logger });
    subs.unsubscribe();
    board.stop();
    trail.complete();
    await dispatcher.close();
    await opening;
    await streamDeps.recorder?.close();
    logger.info('proxy stopped');
  };
  let closed: Promise<void> | null = null;
  return {
    status$: board.status$,
    ready: firstConnected(board),
    reloadSecret: () => secrets.reload('SIGHUP'),
    close: (graceMs = config.drainGraceMs) => (closed ??= stop(graceMs)),
  };
}

/** Resolves when a connection is first authenticated; rejects if the proxy stops before. */
function firstConnected(board: ProxyStatusBoard): Promise<void> {
  const ready = firstValueFrom(board.status$.pipe(filter((s) => s.state === 'connected' || s.state === 'stopped'))).then((s) => {
    if (s.state === 'stopped') throw new Error('proxy stopped before it connected');
  });
  ready.catch(() => undefined); // callers that await it see the rejection; nobody else must crash on it
  return ready;
}

/**
 * GOAWAY on every open connection, then waits until each is idle or the grace is over. When all
 * drained, the requests' audit records are awaited too (within the grace); otherwise the requests
 * still in flight are cut, with a warning.
 */
async function drainConnections(open: ServedConnection[], streams: InFlightStreams, o: { graceMs: number; scheduler: SchedulerLike; logger: Logger }): Promise<void> {
  const { graceMs, scheduler, logger } = o;
  logger.info({ graceMs, [F.inFlight]: streams.size, connections: open.length }, 'proxy draining');
  const drains = open.map((c) => stopDrain(c, graceMs, scheduler));
  const results = await lastValueFrom(drains.length > 0 ? forkJoin(drains) : of([]));
  const cut = results.reduce((n, r) => n + r.cut, 0);
  const drained = results.every((r) => r.drained);
  // Only a request actually cut is worth a warning (with no grace, the GOAWAY fence alone can "time out").
  if (!drained && Math.max(cut, streams.size) > 0) logger.warn({ [F.inFlight]: Math.max(cut, streams.size), graceMs }, 'drain grace period over; cutting the requests still in flight');
  // Drained: each stream's last frame is sent; its request's audit record follows at once.
  else await settledWithin(streams.settled(), graceMs, scheduler);
}

/** One connection attempt of a slot: dial, authenticate with the secret current at that moment, serve. */
function connector(config: ProxyConfig, ctx: ConnectionContext, proxyId: string): (slot: number) => Observable<LinkEvent> {
  const ca = trustedCas(config.caFile);
  const local = ctx.local;
  const maxPayload = 256 * 1024 + local.maxFrameSize + local.maxHeaderBytes + 4 * FRAME_HEADER_BYTES;
  const timeoutMs = config.handshakeTimeoutMs ?? DEFAULT_PROXY_HANDSHAKE_TIMEOUT_MS;
  const spread = new ReplicaSpread();
  return (slot) =>
    defer(() => dial({ url: config.url, caFile: config.caFile, pins: config.pins, maxPayload, openTimeoutMs: timeoutMs, headers: spread.headers(slot) }, ca)).pipe(
      tap({ error: (err: unknown) => spread.failed(slot, err) }),
      switchMap((socket) => {
        // The secret the proof is computed with (read at that moment, so reconnects use the current one).
        let used = ctx.secret();
        return authenticate(socket.transport, {
          tunnelId: config.tunnelId,
          secret: () => (used = ctx.secret()),
          local,
          timeoutMs,
          tlsExporter: socket.tlsSocket !== null ? tlsExporterBinding(socket.tlsSocket) : null,
          requireChannelBinding: config.requireChannelBinding,
          proxy: { id: proxyId, name: config.name, software: SOFTWARE },
        }).pipe(map((session) => ({ socket, session, secret: used })));
      }),
      switchMap(({ socket, session, secret }) => {
        // Cluster: which replica this slot is on, so that the other slots ask for a different one.
        const gone = spread.connected(slot, socket.replica);
        return serveConnection(ctx, slot, socket, session, secret).pipe(finalize(gone));
      }),
    );
}
