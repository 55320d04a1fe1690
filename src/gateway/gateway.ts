import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Subscription } from 'rxjs';
import { randomUUID } from 'node:crypto';
import { AuditTrail, RequestAudit, auditSink } from '../audit';
import type { GatewayConfig } from '../config/types';
import { describeError } from '../errors';
import { F, componentLogger, type Logger } from '../log';
import { ErrorCode, receiveSettings, type PeerSettings } from '../protocol';
import { ClientAuthenticator } from './auth';
import { serveResourceMetadata } from './auth/metadata';
import { answerPreflight } from './cors';
import { checkHostOrigin, compileHostOrigin, hostCheckActive, type HostOriginSettings } from './host-origin';
import { forwardMcpRequest, type ForwardState } from './forward';
import { CompiledPolicy, createPolicyRuntime } from './policy';
import { TunnelAdmission } from './tunnel-admission';
import { sendError } from './http-errors';
import { SecretRotation } from './rotation';
import { route } from './routes';
import { describeCertificate, loadTlsPair, watchTlsFiles } from './tls-reload';
import { TunnelEndpoint } from './tunnel-endpoint';
import { TunnelRegistry } from './tunnels';
import { settledWithin } from '../time';

export interface RunningGateway {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** Live tunnel connections (for health, metrics, tests). */
  readonly registry: TunnelRegistry;
  /** Applies a new configuration (clients, servers, tunnels, secrets) without dropping anything. */
  reload(config: GatewayConfig): void;
  /** Stops accepting, lets in-flight requests finish within `graceMs`, closes tunnels "reconnect soon". */
  close(graceMs?: number): Promise<void>;
}

export interface GatewayDeps {
  logger: Logger;
  auditLogger: Logger;
  /** Quiet period after a change to `tls.cert`/`tls.key` before they are re-read; default 200 ms. */
  tlsReloadDebounceMs?: number;
}

function localSettings(c: GatewayConfig): PeerSettings {
  return receiveSettings(c.flow, { maxStreams: c.limits.maxStreamsPerConnection, maxHeaderBytes: c.limits.maxHeaderBytes });
}

function forwardState(c: GatewayConfig, logger: Logger, previous?: ForwardState): ForwardState {
  return {
    clients: new ClientAuthenticator(c, { logger: componentLogger(logger, 'auth'), previous: previous?.clients }),
    servers: new Map(c.servers.map((s) => [s.name, s])),
    maxRequestBodyBytes: c.limits.maxRequestBodyBytes,
    connectWaitMs: c.limits.connectWaitMs,
    maxOpenStreamsPerClient: c.limits.maxOpenStreamsPerClient,
    policy: new CompiledPolicy(c.policy),
    auditBodies: c.audit.bodies?.enabled ? c.audit.bodies : null,
  };
}

function hostOriginSettings(c: GatewayConfig): HostOriginSettings {
  return compileHostOrigin({ listenHost: c.listen.host, tls: c.tls !== null, allowedHosts: c.allowedHosts, allowedOrigins: c.allowedOrigins, publicUrl: c.auth?.resource ?? null });
}

/**
 * Starts the gateway: one HTTP(S) server that serves MCP clients at `/mcp/{server}` and proxy
 * tunnel connections at `/tunnel/{id}`. Resolves once listening.
 */
export async function startGateway(initial: GatewayConfig, deps: GatewayDeps): Promise<RunningGateway> {
  let config = initial;
  let state = forwardState(config, deps.logger);
  let hostOrigin = hostOriginSettings(config);
  const logger = componentLogger(deps.logger, 'gateway');
  const registry = new TunnelRegistry();
  const trail = new AuditTrail(logger);
  const subs = new Subscription();
  subs.add(auditSink(trail.records$, deps.auditLogger, logger).subscribe());
  const inFlight = new Set<Promise<void>>();
  const policy = createPolicyRuntime();

  const secretsOf = (id: string): readonly string[] | null => config.tunnels.find((t) => t.id === id)?.secrets ?? null;
  const rotation = new SecretRotation({
    secretsOf,
    graceMs: () => config.rotation.graceMs,
    challengeDeadlineMs: () => config.limits.handshakeTimeoutMs,
    maxControlBytes: () => config.limits.maxHeaderBytes,
  });
  const endpoint = new TunnelEndpoint({
    secretsOf,
    local: () => localSettings(config),
    handshakeTimeoutMs: () => config.limits.handshakeTimeoutMs,
    heartbeatIntervalMs: () => config.heartbeat.intervalMs,
    registry,
    logger: componentLogger(deps.logger, 'session'),
    onAuthenticated: (conn, session, log) => rotation.track(conn, session, log),
    admission: new TunnelAdmission(() => config.limits),
  });

  /**
   * Answers a request whose Host/Origin is refused (403); false when it may proceed. A refused MCP
   * request is audited like any other refusal (client unknown: it is checked before authentication).
   */
  const refusedHostOrigin = (req: http.IncomingMessage, res: http.ServerResponse, mcp: { server: string; path: string } | null): boolean => {
    const refused = checkHostOrigin(req, hostOrigin, { origin: mcp !== null });
    if (refused === null) return false;
    const rid = randomUUID();
    const server = mcp?.server ?? null;
    logger.info({ [F.requestId]: rid, [F.code]: refused.code, [F.status]: 403, [F.server]: server, [F.remote]: req.socket.remoteAddress, [F.reason]: refused.message }, 'request refused: Host/Origin');
    if (mcp !== null) {
      const audit = RequestAudit.gateway({ rid, client: null, server: mcp.server, tunnel: null, httpMethod: req.method ?? 'GET', path: mcp.path }, { onFinish: (r) => trail.write(r) });
      audit.setStatus(403).fail(refused.code);
      audit.finish();
    }
    sendError(res, 403, refused, { server, rid }, { connection: 'close' });
    req.resume();
    return true;
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const r = route(req.url);
    if (r.kind === 'mcp') {
      // Before anything else, the CORS preflight included: a refused origin learns nothing.
      if (refusedHostOrigin(req, res, { server: r.server, path: `/mcp/${r.server}${r.rest}` })) return;
      if (answerPreflight(req, res)) return;
      const p = forwardMcpRequest(req, res, r, { state: () => state, registry, logger, audit: trail, policy }).catch((err: unknown) => {
        logger.error({ [F.err]: describeError(err) }, 'unexpected error while forwarding');
        if (!res.headersSent) sendError(res, 500, { code: 'TUNNEL_INTERNAL', message: 'internal gateway error' }, { server: r.server, rid: '' });
        else res.destroy();
      });
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      return;
    }
    if (r.kind === 'resource-metadata') {
      // Without auth.resource the metadata names the request's Host: only accepted names.
      if (refusedHostOrigin(req, res, null)) return;
      serveResourceMetadata(req, res, r.server, { clients: state.clients, servers: state.servers });
      return;
    }
    if (r.kind === 'health') {
      // Public and unauthenticated: liveness only. Tunnel ids (and which are connected) would tell
      // anyone where to aim connection attempts.
      const body = JSON.stringify({ status: 'ok' });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    sendError(res, 404, { code: 'TUNNEL_NOT_FOUND', message: `no route for ${req.method ?? ''} ${(req.url ?? '').split('?')[0] ?? ''}` }, { server: null, rid: '' });
  };

  const tlsFiles = config.tls;
  const tlsPair = tlsFiles ? loadTlsPair(tlsFiles) : null;
  const server: http.Server = tlsPair ? https.createServer({ cert: tlsPair.cert, key: tlsPair.key, noDelay: true }, onRequest) : http.createServer({ noDelay: true }, onRequest);
  // Long-lived SSE streams and large uploads must not be cut by Node's request timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.on('connection', (s: import('node:net').Socket) => s.setNoDelay(true));
  server.on('upgrade', (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
    const r = route(req.url);
    if (r.kind !== 'tunnel') {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    endpoint.handleUpgrade(req, socket, head, r.tunnelId);
  });
  server.on('clientError', (err, socket) => {
    logger.debug({ [F.err]: describeError(err) }, 'malformed HTTP request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${port}`;
  logger.info({ [F.url]: url, tunnels: config.tunnels.map((t) => t.id), servers: config.servers.map((s) => s.name) }, 'gateway listening');
  if (!hostCheckActive(hostOrigin)) {
    logger.warn({ host: config.listen.host }, 'allowedHosts is not set on a non-loopback listener: every Host is accepted (set allowedHosts to the public names for DNS-rebinding protection)');
  }
  // Certificate renewal without a restart: new TLS connections get the new pair, established ones keep theirs.
  const tlsReloader =
    tlsFiles && tlsPair
      ? watchTlsFiles({
          files: tlsFiles,
          current: tlsPair,
          apply: (pair) => (server as https.Server).setSecureContext({ cert: pair.cert, key: pair.key }),
          logger: componentLogger(deps.logger, 'tls'),
          debounceMs: deps.tlsReloadDebounceMs,
        })
      : null;
  if (tlsPair) componentLogger(deps.logger, 'tls').info(describeCertificate(tlsPair.cert), 'TLS certificate loaded');

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    registry,
    reload(next) {
      config = next;
      // The previous authenticator is not closed: a request still waiting for its JWKS load
      // finishes with it (the load is bounded by its timeout). An unchanged jwksUrl keeps its cache.
      state = forwardState(next, deps.logger, state);
      hostOrigin = hostOriginSettings(next);
      registry.notifyAll();
      logger.info({ tunnels: next.tunnels.map((t) => t.id), servers: next.servers.map((s) => s.name) }, 'configuration reloaded');
      // After the log line, so that operators see the reload before its consequences.
      rotation.recheck();
    },
    close(graceMs = config.drainGraceMs ?? 30_000) {
      closing ??= (async () => {
        logger.info({ graceMs, inFlight: inFlight.size }, 'gateway shutting down');
        server.close();
        tlsReloader?.close();
        for (const c of registry.all()) c.mux.goAway(ErrorCode.SHUTDOWN, 'gateway shutting down; reconnect soon');
        if (inFlight.size > 0) await settledWithin(Promise.allSettled([...inFlight]), graceMs);
        rotation.close();
        state.clients.close();
        await endpoint.close();
        server.closeAllConnections();
        registry.close();
        trail.complete();
        subs.unsubscribe();
        logger.info('gateway stopped');
      })();
      return closing;
    },
  };
}
