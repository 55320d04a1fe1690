import { Observable, type Subscription } from '../rx';
import { componentLogger, type Logger } from '../log';
import type { Metrics, MetricsRole, OpsServer, Readiness, StatusReport } from '../ops';
// The ops parts by file, not through '../ops': the metrics (prom-client, ~30 modules and a few MiB)
// load only when the ops listener is on (issue 10, idle memory).
import { parseOpsListen } from '../ops/listen-address';
import { LoopMonitor } from '../ops/loop-monitor';
import type * as MetricsModule from '../ops/metrics';
import { startOpsServer } from '../ops/ops-server';
import { SdNotifier } from '../ops/sd-notify';
import { statusReport } from '../ops/status-report';
import { VERSION } from '../version';
import type { Closable, GatewayView, ProxyView } from './types';

/**
 * What `gateway` and `proxy` add around the running component: the ops listener (when `ops.listen`
 * / `--ops-listen` is set) and sd_notify (when systemd set `NOTIFY_SOCKET`). Kept out of commands.ts
 * so that the commands only say when the service is ready, reloading or stopping.
 */
export interface OpsHooks {
  /** `http://HOST:PORT` of the ops listener, or null when it is off (for the start-up line). */
  readonly url: string | null;
  /** The service is ready (gateway: listening; proxy: first authenticated connection): `READY=1`, watchdog on. */
  ready(status?: string): void;
  /** `STATUS=…`, the line `systemctl status` shows. */
  status(text: string): void;
  /** Wraps the reload signals: `RELOADING=1` before each reload, `READY=1` after it. */
  aroundReloads(signals$: Observable<'SIGHUP'>): Observable<'SIGHUP'>;
  /** The metrics the ops listener serves, for the component to feed; null without an ops listener. */
  readonly metrics: Metrics | null;
  /** Gateway: what `GET /status` reports, set once the gateway runs (404 before and on the proxy). */
  setStatus(status: () => StatusReport): void;
  /** `STOPPING=1`, then closes the ops listener (after `service`, so probes see the drain). */
  close(service: Closable, graceMs?: number): Promise<void>;
}

export interface OpsHookOptions {
  role: MetricsRole;
  /** `HOST:PORT` (validated by the config loader) or null: no ops listener. */
  listen: string | null;
  readiness: () => Readiness;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}

/**
 * Starts the ops listener (if configured) and the sd_notify client.
 * @throws OpsError `TUNNEL_OPS_LISTEN_FAILED` when the listener cannot bind (a start-up failure).
 */
export async function startOpsHooks(opts: OpsHookOptions): Promise<OpsHooks> {
  const log = componentLogger(opts.logger, 'ops');
  const sd = new SdNotifier({ env: opts.env, logger: log });
  const loop = new LoopMonitor();
  let server: OpsServer | null = null;
  let status: (() => StatusReport) | null = null;
  const metrics =
    opts.listen === null
      ? null
      : // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy: only with an ops listener
        new (require('../ops/metrics') as typeof MetricsModule).Metrics({ role: opts.role, version: VERSION });
  if (opts.listen !== null) {
    server = await startOpsServer({
      listen: parseOpsListen(opts.listen),
      ready: opts.readiness,
      loop,
      metrics: metrics ?? undefined,
      ...(opts.role === 'gateway' ? { status: () => status?.() ?? emptyStatus() } : {}),
      logger: log,
    });
  }
  let readySent = false;
  return {
    url: server?.url ?? null,
    metrics,
    setStatus: (s) => (status = s),
    ready(status) {
      readySent = true;
      sd.ready(status);
      sd.startWatchdog(() => !loop.status().stalled);
    },
    status: (text) => sd.status(text),
    aroundReloads: (signals$) =>
      new Observable<'SIGHUP'>((sub) =>
        signals$.subscribe({
          next: (s) => {
            // Before the first READY=1 (a proxy not yet connected) a reload is no state change for systemd.
            if (readySent) sd.reloading();
            sub.next(s);
            if (readySent) sd.ready();
          },
          complete: () => sub.complete(),
        }),
      ),
    async close(service, graceMs) {
      sd.stopping();
      try {
        await service.close(graceMs);
      } finally {
        sd.close();
        await server?.close();
      }
    },
  };
}

/** Gateway readiness: listening (it is, once started); per configured tunnel, its authenticated connections. */
export function gatewayReadiness(gateway: GatewayView, tunnelIds: () => readonly string[]): () => Readiness {
  return () => {
    const tunnels: Readiness['tunnels'] = {};
    for (const id of tunnelIds()) {
      const connections = gateway.registry?.connections(id).length ?? 0;
      tunnels[id] = { ready: connections > 0, connections };
    }
    const c = gateway.clusterSnapshot?.() ?? null;
    return c === null ? { ready: true, tunnels } : { ready: true, tunnels, cluster: { replica: c.replicaId, redis: c.redis, replicas: c.replicas.length } };
  };
}

/**
 * Proxy readiness from its status: ready while at least one authenticated tunnel connection is open.
 * Sends `READY=1` once, at the first authenticated connection, and `STATUS=` at every change. Unsubscribe on shutdown.
 */
export function watchProxyReadiness(
  proxy: ProxyView,
  ops: Pick<OpsHooks, 'ready' | 'status'>,
): { readiness: () => Readiness; subscription: Subscription | null } {
  let current: Readiness = { ready: false, reason: 'no authenticated tunnel connection yet' };
  let announced = false;
  const subscription =
    proxy.status$?.subscribe((s) => {
      current = s.state === 'connected' ? { ready: true } : { ready: false, reason: s.state === 'stopped' ? 'stopped' : `no authenticated tunnel connection (${s.state})` };
      const text = s.state === 'connected' ? `connected (${s.connections ?? 1} connections)` : s.state === 'waiting' ? `waiting to reconnect: ${s.code}` : s.state;
      if (current.ready && !announced) {
        announced = true;
        ops.ready(text);
      } else ops.status(text);
    }) ?? null;
  return { readiness: () => current, subscription };
}

const PROCESS_STARTED_AT = Date.now() - Math.round(process.uptime() * 1000);

/** `/status` before the gateway runs: the replica, no tunnels. */
function emptyStatus(): StatusReport {
  return gatewayStatus({ snapshot: () => ({ tunnels: [], connections: [], inFlight: 0 }) })();
}

/** The gateway's `GET /status` body, from its snapshot (and its cluster's, if any) at each request. */
export function gatewayStatus(gateway: Required<Pick<GatewayView, 'snapshot'>> & Pick<GatewayView, 'clusterSnapshot'>): () => StatusReport {
  return () => statusReport(gateway.snapshot(), { version: VERSION, pid: process.pid, startedAt: PROCESS_STARTED_AT, now: Date.now() }, gateway.clusterSnapshot?.() ?? null);
}
