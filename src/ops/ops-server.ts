import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { F, type Logger } from '../log';
import { describeError } from '../errors';
import { OPS_CODES, OpsError, type OpsCode } from './errors';
import type { LoopMonitor } from './loop-monitor';
import type { OpsListenAddress } from './listen-address';
import type { Metrics } from './metrics';
import type { StatusReport } from './status-report';

/** One tunnel's readiness as the gateway reports it in `/readyz`. */
export interface TunnelReadiness {
  ready: boolean;
  /** Authenticated proxy connections of this tunnel. */
  connections: number;
}

/** What the readiness callback returns; `/readyz` answers 200 when `ready`, else 503. */
export interface Readiness {
  ready: boolean;
  /** Why not ready, for people (`no authenticated tunnel connection`). */
  reason?: string;
  /** Gateway: per-tunnel readiness. */
  tunnels?: Record<string, TunnelReadiness>;
  /**
   * Gateway in a cluster (docs/cluster.md): this replica, whether Redis answers (`degraded`: local
   * tunnels and open hops only, still ready) and how many replicas it sees (itself included).
   */
  cluster?: { replica: string; redis: 'ok' | 'degraded'; replicas: number };
}

/** An extra liveness check (e.g. the connection supervisor still turning); `/healthz` fails when not ok. */
export interface Liveness {
  ok: boolean;
  reason?: string;
}

export interface OpsServerOptions {
  listen: OpsListenAddress;
  ready: () => Readiness | Promise<Readiness>;
  /** Event-loop stall detection for `/healthz`; started and stopped with the server. */
  loop?: LoopMonitor;
  health?: () => Liveness;
  /** Omitted: `/metrics` is 404. */
  metrics?: Metrics;
  /** Gateway: the `GET /status` body (tunnels, connected proxies). Omitted: `/status` is 404. */
  status?: () => StatusReport;
  /** Host names accepted besides IP literals and `localhost` (e.g. a scrape target's DNS name). */
  allowedHosts?: readonly string[];
  logger: Logger;
}

/** A running ops listener. */
export interface OpsServer {
  /** Where it listens (the real port when 0 was asked for). */
  readonly address: { host: string; port: number };
  /** `http://HOST:PORT` of the listener, for `mcp-tunnel health --url`. */
  readonly url: string;
  close(): Promise<void>;
}

const ENDPOINTS = new Set(['/healthz', '/readyz', '/metrics', '/status']);

/**
 * Starts the ops listener: `GET /healthz`, `GET /readyz`, `GET /metrics`, and on the gateway
 * `GET /status` (HEAD too), nothing else.
 * It is for probes and scrapers on a trusted network (loopback by default) and reveals tunnel ids and
 * server names, so a `Host` that could come from DNS rebinding (a name that is neither an IP literal,
 * `localhost`, nor in `allowedHosts`) is refused with 403.
 * @throws OpsError `TUNNEL_OPS_LISTEN_FAILED` when it cannot bind (one clear line, no stack).
 */
export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const allowed = new Set((opts.allowedHosts ?? []).map((h) => h.toLowerCase()));
  const server = createServer({ maxHeaderSize: 8192, requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    handle(req, res, opts, allowed).catch((err: unknown) => {
      opts.logger.error({ [F.err]: describeError(err) }, 'ops request failed');
      if (!res.headersSent) send(res, 500, { error: { code: OPS_CODES.metricsFailed, message: 'internal error' } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  server.maxConnections = 64;
  server.maxHeadersCount = 32;
  await listen(server, opts.listen);
  const a = server.address() as AddressInfo;
  opts.loop?.start();
  const host = isIP(a.address) === 6 ? `[${a.address}]` : a.address;
  opts.logger.info({ [F.url]: `http://${host}:${a.port}` }, 'ops listener ready');
  return {
    address: { host: a.address, port: a.port },
    url: `http://${host}:${a.port}`,
    close: () => {
      opts.loop?.stop();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function listen(server: Server, at: OpsListenAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EADDRNOTAVAIL' ? 'the address is not on this host' : (err.code ?? err.message);
      reject(new OpsError(OPS_CODES.listenFailed, `ops listener cannot listen on ${at.host}:${at.port}: ${why}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(at.port, at.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, opts: OpsServerOptions, allowed: ReadonlySet<string>): Promise<void> {
  const host = hostOf(req);
  if (host === undefined || !(isIP(host) !== 0 || host === 'localhost' || allowed.has(host))) {
    opts.logger.warn({ [F.code]: OPS_CODES.hostDenied, [F.remote]: req.socket.remoteAddress }, 'ops request refused: Host is not an IP address, localhost or an allowed name');
    return refuse(res, 403, OPS_CODES.hostDenied, 'Host not accepted');
  }
  const path = (req.url ?? '').split('?', 1)[0]!;
  if (!ENDPOINTS.has(path) || (path === '/metrics' && opts.metrics === undefined) || (path === '/status' && opts.status === undefined)) {
    return refuse(res, 404, OPS_CODES.notFound, `only /healthz, /readyz${opts.metrics ? ', /metrics' : ''}${opts.status ? ', /status' : ''}`);
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return refuse(res, 405, OPS_CODES.methodNotAllowed, 'only GET and HEAD');
  }
  if (path === '/healthz') return healthz(res, opts);
  if (path === '/readyz') return readyz(res, opts);
  if (path === '/status') return send(res, 200, opts.status!());
  return metrics(res, opts);
}

/** The request's host name, lower-cased, brackets removed; undefined when missing, repeated or malformed. */
function hostOf(req: IncomingMessage): string | undefined {
  let count = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'host') count++;
  const m = count === 1 ? /^(?:\[([0-9a-f:.]+)\]|([a-z0-9.-]+))(?::\d{1,5})?$/i.exec(req.headers.host ?? '') : null;
  return m ? (m[1] ?? m[2])!.toLowerCase() : undefined;
}

function healthz(res: ServerResponse, opts: OpsServerOptions): void {
  const loop = opts.loop?.status() ?? { stalled: false, maxLagMs: 0 };
  const extra = opts.health?.() ?? { ok: true };
  const ok = !loop.stalled && extra.ok;
  const reason = loop.stalled ? 'event loop stalled' : extra.ok ? undefined : extra.reason;
  send(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unhealthy', reason, eventLoopMaxLagMs: loop.maxLagMs });
}

async function readyz(res: ServerResponse, opts: OpsServerOptions): Promise<void> {
  let r: Readiness;
  try {
    r = await opts.ready();
  } catch (err) {
    opts.logger.error({ [F.code]: OPS_CODES.readinessFailed, [F.err]: describeError(err) }, 'readiness check failed');
    return refuse(res, 503, OPS_CODES.readinessFailed, 'readiness check failed');
  }
  send(res, r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', ready: r.ready, reason: r.reason, tunnels: r.tunnels, cluster: r.cluster });
}

async function metrics(res: ServerResponse, opts: OpsServerOptions): Promise<void> {
  let text: string;
  try {
    text = await opts.metrics!.render();
  } catch (err) {
    opts.logger.error({ [F.code]: OPS_CODES.metricsFailed, [F.err]: describeError(err) }, 'metrics collection failed');
    return refuse(res, 500, OPS_CODES.metricsFailed, 'metrics collection failed');
  }
  res.writeHead(200, { 'Content-Type': opts.metrics!.contentType, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

function refuse(res: ServerResponse, status: number, code: OpsCode, message: string): void {
  send(res, status, { error: { code, message } });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}
