import type http from 'node:http';
import { Subscription } from '../rx';
import { AuditTrail, auditSink } from '../audit';
import type { GatewayConfig } from '../config/types';
import { F, componentLogger, type Logger } from '../log';
import { ErrorCode } from '../protocol';
import { hostCheckActive } from './host-origin';
import { startListener, watchCertificate } from './listener';
import { LiveConfig } from './live-config';
import { createPolicyRuntime } from './policy';
import { InFlight, createRequestHandler, createUpgradeHandler } from './request-router';
import { SecretRotation } from './rotation';
import type { TlsReloader } from './tls-reload';
import { TunnelAdmission } from './tunnel-admission';
import { TunnelEndpoint } from './tunnel-endpoint';
import { TunnelRegistry } from './tunnels';
import { settledWithin } from '../time';
// The ops parts by file, not through '../ops': prom-client loads only with an ops listener (D34).
import type { GatewaySnapshot, Metrics } from '../ops';
import { meterCluster } from '../ops/cluster-metrics';
import { meterGateway } from '../ops/component-metrics';
import { meterRecorder } from '../ops/record-metrics';
import { openConfiguredRecorder } from '../replay/open';
import type { Recorder } from '../replay/recorder';
import type * as ClusterModule from '../cluster';
import type { ClusterNode, ClusterSnapshot } from '../cluster';

export interface RunningGateway {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** Live tunnel connections (for health, metrics, tests). */
  readonly registry: TunnelRegistry;
  /** Configured tunnels and live connections now, as plain data (`/status`, metrics). */
  snapshot(): GatewaySnapshot;
  /** Cluster: this replica and what it sees of the others (docs/cluster.md "Status JSON"); null without `cluster.redis`. */
  clusterSnapshot(): ClusterSnapshot | null;
  /** Applies a new configuration (clients, servers, tunnels, secrets) without dropping anything. */
  reload(config: GatewayConfig): void;
  /** Stops accepting, lets in-flight requests finish within `graceMs`, closes tunnels "reconnect soon". */
  close(graceMs?: number): Promise<void>;
}

export interface GatewayDeps {
  logger: Logger;
  auditLogger: Logger;
  /** Feeds these metrics (requests, connections, auth failures, audit failures); absent: no metrics work at all. */
  metrics?: Metrics;
  /** Quiet period after a change to `tls.cert`/`tls.key` before they are re-read; default 200 ms. */
  tlsReloadDebounceMs?: number;
  /** A recorder to use instead of opening `config.record`; the gateway closes it when it stops. */
  recorder?: Recorder;
}

/** The proxy-facing side: the `/tunnel/{id}` endpoint and the secret rotation of its sessions. */
interface TunnelSide {
  endpoint: TunnelEndpoint;
  rotation: SecretRotation;
  /** The endpoint's upgrade limits (a cluster shares their failed-attempts window). */
  admission: TunnelAdmission;
}

/** Everything {@link shutdown} releases, in the order it releases them. */
interface GatewayParts extends TunnelSide {
  server: http.Server;
  tlsReloader: TlsReloader | null;
  registry: TunnelRegistry;
  inFlight: InFlight;
  live: LiveConfig;
  trail: AuditTrail;
  subs: Subscription;
  logger: Logger;
  recorder: Recorder | undefined;
  cluster: ClusterNode | null;
}

/**
 * Starts the gateway: one HTTP(S) server that serves MCP clients at `/mcp/{server}` and proxy
 * tunnel connections at `/tunnel/{id}`. Resolves once listening.
 * @throws TunnelError `TUNNEL_GATEWAY_TLS_INVALID` for an unusable `tls` pair; rejects with the listen error.
 */
export async function startGateway(initial: GatewayConfig, deps: GatewayDeps): Promise<RunningGateway> {
  const live = new LiveConfig(initial, deps.logger);
  const logger = componentLogger(deps.logger, 'gateway');
  const registry = new TunnelRegistry();
  const trail = new AuditTrail(logger);
  const subs = new Subscription();
  subs.add(auditSink(trail.records$, deps.auditLogger, logger, trail.writeFailed).subscribe());
  const inFlight = new InFlight();
  const policy = createPolicyRuntime();
  const tunnels = createTunnelSide(live, registry, deps.logger, deps.metrics);
  const snapshot = (): GatewaySnapshot => ({
    tunnels: live.config.tunnels.map((t) => t.id),
    connections: registry.snapshot().map((c) => ({ ...c, secretIndex: tunnels.rotation.secretIndexOf(c.id) })),
    inFlight: inFlight.size,
  });
  if (deps.metrics) subs.add(meterGateway(deps.metrics, { trail, knownServer: (s) => live.forward.servers.has(s), snapshot }));

  // `record` is read at start only (a reload does not start or stop a recording).
  const recorder = deps.recorder ?? (initial.record ? await openConfiguredRecorder(initial.record, 'gateway', logger) : undefined);
  if (deps.metrics && recorder) subs.add(meterRecorder(deps.metrics, () => recorder.stats()));
  const request = createRequestHandler({ state: () => live.forward, hostOrigin: () => live.hostOrigin, registry, logger, trail, policy, inFlight, recorder });
  const listener = await startListener(initial.listen, initial.tls, { request, upgrade: createUpgradeHandler(tunnels.endpoint) }, logger);
  announce(listener.url, live, logger);
  const tlsReloader = watchCertificate(listener, initial.tls, componentLogger(deps.logger, 'tls'), deps.tlsReloadDebounceMs);
  // Cluster hook: without cluster.redis nothing of src/cluster runs (and ioredis is never loaded).
  let parts: GatewayParts | null = null;
  const fromCluster = (next: GatewayConfig): void => {
    if (parts) reload(next, parts, 'cluster');
  };
  const cluster = initial.cluster ? await loadCluster().startClusterNode(initial.cluster, { live, registry, limiter: policy.limiter, endpoint: tunnels.endpoint, admission: tunnels.admission }, deps.logger, fromCluster).catch(async (err: unknown) => {
    tlsReloader?.close();
    listener.server.close();
    await recorder?.close();
    throw err;
  }) : null;
  if (cluster && deps.metrics) subs.add(meterCluster(deps.metrics, () => cluster.clusterSnapshot()));

  parts = { ...tunnels, server: listener.server, tlsReloader, registry, inFlight, live, trail, subs, logger, recorder, cluster };
  const p = parts;
  let closing: Promise<void> | null = null;
  return {
    url: listener.url,
    port: listener.port,
    registry,
    snapshot,
    clusterSnapshot: () => cluster?.clusterSnapshot() ?? null,
    reload: (next) => reload(next, p, 'local'),
    close(graceMs = live.config.drainGraceMs ?? 30_000) {
      closing ??= shutdown(p, graceMs);
      return closing;
    },
  };
}

/** src/cluster, loaded only for a replica (`cluster.redis`): a single gateway loads none of it (decisions.md D69). */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading, as in src/cli/runners.ts
const loadCluster = (): typeof ClusterModule => require('../cluster') as typeof ClusterModule;

function createTunnelSide(live: LiveConfig, registry: TunnelRegistry, rootLogger: Logger, metrics?: Metrics): TunnelSide {
  const secretsOf = (id: string): readonly string[] | null => live.secretsOf(id);
  const rotation = new SecretRotation({
    secretsOf,
    graceMs: () => live.config.rotation.graceMs,
    challengeDeadlineMs: () => live.config.limits.handshakeTimeoutMs,
    maxControlBytes: () => live.config.limits.maxHeaderBytes,
    ...(metrics === undefined ? {} : { onReauthFailed: (code: string) => metrics.authFailure(code) }),
  });
  const admission = new TunnelAdmission(() => live.config.limits);
  const endpoint = new TunnelEndpoint({
    secretsOf,
    local: () => live.localSettings(),
    handshakeTimeoutMs: () => live.config.limits.handshakeTimeoutMs,
    heartbeatIntervalMs: () => live.config.heartbeat.intervalMs,
    registry,
    logger: componentLogger(rootLogger, 'session'),
    onAuthenticated: (conn, session, log) => rotation.track(conn, session, log),
    admission,
    onHandshakeFailed: metrics && ((code) => metrics.authFailure(code)),
  });
  return { endpoint, rotation, admission };
}

function announce(url: string, live: LiveConfig, logger: Logger): void {
  const config = live.config;
  logger.info({ [F.url]: url, tunnels: config.tunnels.map((t) => t.id), servers: config.servers.map((s) => s.name) }, 'gateway listening');
  if (!hostCheckActive(live.hostOrigin)) {
    logger.warn({ host: config.listen.host }, 'allowedHosts is not set on a non-loopback listener: every Host is accepted (set allowedHosts to the public names for DNS-rebinding protection)');
  }
}

/** Applies `next`; a local reload is also published to the other replicas of a cluster. */
function reload(next: GatewayConfig, p: GatewayParts, origin: 'local' | 'cluster'): void {
  p.live.replace(next);
  p.registry.notifyAll();
  if (origin === 'local') p.cluster?.reloadSecret();
  p.logger.info({ tunnels: next.tunnels.map((t) => t.id), servers: next.servers.map((s) => s.name), origin }, 'configuration reloaded');
  // After the log line, so that operators see the reload before its consequences.
  p.rotation.recheck();
  if (origin === 'local') void p.cluster?.publishConfig(next);
}

/**
 * Stops accepting, tells every proxy "reconnect soon", gives in-flight requests `graceMs`, then
 * releases the rest: rotation timers, the authenticator, tunnel sessions, leftover sockets, the
 * registry and finally the audit trail (so the last requests' records are written).
 */
async function shutdown(p: GatewayParts, graceMs: number): Promise<void> {
  p.logger.info({ graceMs, inFlight: p.inFlight.size }, 'gateway shutting down');
  p.server.close();
  p.tlsReloader?.close();
  for (const c of p.registry.all()) c.mux.goAway(ErrorCode.SHUTDOWN, 'gateway shutting down; reconnect soon');
  if (p.inFlight.size > 0) await settledWithin(p.inFlight.allSettled(), graceMs);
  p.rotation.close();
  await p.cluster?.close();
  p.live.forward.clients.close();
  await p.endpoint.close();
  p.server.closeAllConnections();
  p.registry.close();
  p.trail.complete();
  p.subs.unsubscribe();
  // After the last exchange ended: what is queued is written, then the footer.
  await p.recorder?.close();
  p.logger.info('gateway stopped');
}
