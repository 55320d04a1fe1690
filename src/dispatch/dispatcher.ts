import { PassThrough, type Readable } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { Agent, Pool } from 'undici';
import type { ProxyConfig, UpstreamTlsConfig } from '../config/types';
import { fromNodeRawHeaders, responseHeadersForClient, type HeaderList } from '../http/headers';
import { F, componentLogger, type Logger } from '../log';
import { classifyUpstreamError } from './classify';
import { TlsFailureTracker, createConnector } from './connector';
import { EgressPolicy, type EgressDecision, type EgressResolver } from './egress';
import { UpstreamError, UpstreamErrorCode } from './errors';
import { prepareRequestHeaders } from './request-headers';
import { parseUpstreamUrl } from './target';
import { loadTlsOptions, tlsConfigKey } from './tls';
import type { UpstreamDispatcher, UpstreamRequest, UpstreamResponse } from './types';
import { settledWithin } from '../time';

/**
 * How long `close()` lets in-flight requests finish before destroying them. Long-lived SSE streams
 * never finish on their own, so without this bound shutdown would wait for hours; 5 s covers ordinary
 * JSON responses in flight. Callers that cancel their streams first (abort signals) see no wait.
 */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;

/** Default of `upstream.streamConnectionsPerOrigin`, for configurations built in code. */
export const DEFAULT_STREAM_CONNECTIONS_PER_ORIGIN = 16_384;

/** Which pool a request uses: GET opens a long-lived stream; every other method is a request. */
type PoolKind = 'requests' | 'streams';

/** Options beyond the configuration file. */
export interface UpstreamDispatcherOptions {
  /** See {@link DEFAULT_CLOSE_GRACE_MS}. */
  closeGraceMs?: number;
  /** Host name resolver used when `cfg.allow` is set (default `dns.lookup`); for tests. */
  resolver?: EgressResolver;
}

interface AgentEntry {
  agent: Agent;
  /**
   * The agent's per-origin pools. `Agent.close()` forgets its pools at once, so a later
   * `Agent.destroy()` would not reach requests still in flight; we destroy the pools ourselves.
   */
  pools: Set<Pool>;
  /** `"*"` for the global TLS config, else the first server that uses this config. */
  scope: string;
}

/** The two agents of one TLS configuration. */
interface AgentPair {
  requests: Agent;
  streams: Agent;
}

/**
 * Creates the proxy's dispatcher to internal MCP servers.
 *
 * Two undici `Agent`s per distinct TLS configuration (the global `cfg.tls`, and each distinct
 * per-server override): one for requests, pooling up to `cfg.connectionsPerOrigin` keep-alive
 * connections per origin, and one for GET streams (standalone and legacy SSE streams), up to
 * `cfg.streamConnectionsPerOrigin`. A GET stream holds its connection for its whole life; in the
 * request pool, a client's idle streams would take every connection and make all other requests to
 * that origin wait (docs/decisions.md D20). PEM files are read here, once.
 *
 * Timeouts: `cfg.headersTimeoutMs` for the response head (0 = none), `cfg.connectTimeoutMs` for TCP
 * plus TLS handshake, and none at all for bodies — a live SSE stream may be silent for hours.
 *
 * @throws UpstreamError `TUNNEL_UPSTREAM_TLS_CONFIG` when TLS material cannot be loaded.
 */
export function createUpstreamDispatcher(
  cfg: ProxyConfig['upstream'],
  logger: Logger,
  options: UpstreamDispatcherOptions = {},
): UpstreamDispatcher {
  const log = componentLogger(logger, 'dispatch');
  const closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  const tracker = new TlsFailureTracker();
  const byTlsKey = new Map<string, AgentEntry>();
  // Throws EgressRuleError for a bad rule; the config loader has already validated them.
  const policy = EgressPolicy.fromRules(cfg.allow);
  const egress = {
    policy,
    resolver: options.resolver,
    onDecision: (d: EgressDecision) => log.debug({ egress: d.decision }, 'egress decision'),
  };
  if (policy.enabled) log.info({ rules: policy.rules.map((r) => r.text) }, 'egress allowlist active');

  const limitOf = (kind: PoolKind): number | null => {
    const n = kind === 'requests' ? cfg.connectionsPerOrigin : (cfg.streamConnectionsPerOrigin ?? DEFAULT_STREAM_CONNECTIONS_PER_ORIGIN);
    // undici reads null as "unlimited"; a non-positive config value means the same.
    return n > 0 ? n : null;
  };

  // One connector per TLS configuration, shared by its two agents: PEM files are read once.
  const connectors = new Map<string, ReturnType<typeof createConnector>>();
  const agentFor = (tls: UpstreamTlsConfig, scope: string, kind: PoolKind): Agent => {
    const tlsKey = tlsConfigKey(tls);
    const key = `${kind}\0${tlsKey}`;
    const existing = byTlsKey.get(key);
    if (existing !== undefined) return existing.agent;
    let connect = connectors.get(tlsKey);
    if (connect === undefined) {
      connect = createConnector(loadTlsOptions(tls, scope), cfg.connectTimeoutMs, tracker, egress);
      connectors.set(tlsKey, connect);
    }
    const pools = new Set<Pool>();
    const agent = new Agent({
      connections: limitOf(kind),
      headersTimeout: cfg.headersTimeoutMs,
      bodyTimeout: 0,
      connect,
      factory: (origin, opts) => {
        // The agent closes and drops a pool whose connections all went away; forget those too.
        for (const p of pools) if (p.destroyed) pools.delete(p);
        const pool = new Pool(origin, opts);
        pools.add(pool);
        return pool;
      },
    });
    if (!tls.rejectUnauthorized && kind === 'requests') {
      log.warn({ [F.server]: scope }, 'upstream TLS certificate verification is disabled');
    }
    byTlsKey.set(key, { agent, scope, pools });
    return agent;
  };
  const pairFor = (tls: UpstreamTlsConfig, scope: string): AgentPair => ({ requests: agentFor(tls, scope, 'requests'), streams: agentFor(tls, scope, 'streams') });

  const globalAgents = pairFor(cfg.tls, '*');
  const serverAgents = new Map<string, AgentPair>();
  for (const [name, server] of Object.entries(cfg.servers)) {
    serverAgents.set(name, pairFor(server.tls, name));
  }
  log.debug({ agents: byTlsKey.size, servers: serverAgents.size }, 'upstream dispatcher ready');

  let closing: Promise<void> | null = null;

  async function request(req: UpstreamRequest): Promise<UpstreamResponse> {
    const started = performance.now();
    const { server } = req;
    let origin: string | null = null;
    let logUrl: string | undefined;
    try {
      if (closing !== null) {
        throw new UpstreamError(UpstreamErrorCode.Closed, `dispatcher is closed; request for server "${server}" not sent`, {
          server,
          origin: null,
          retryable: true,
        });
      }
      const target = parseUpstreamUrl(req.url, server);
      origin = target.origin;
      // The query may carry secrets (tokens in legacy SSE URLs): log the path only.
      logUrl = `${target.origin}${target.path.split('?', 1)[0] ?? ''}`;
      if (req.signal.aborted) {
        throw new UpstreamError(UpstreamErrorCode.Aborted, `request to upstream ${origin} (server "${server}") aborted before it was sent`, {
          server,
          origin,
          cause: req.signal.reason,
        });
      }
      const headers = prepareRequestHeaders(req.headers, server, origin);
      return await send(req, target.origin, target.path, headers.flat, logUrl, started);
    } catch (err) {
      // Everything thrown before undici took the body: release it ourselves (undici does otherwise).
      if (req.body && !Buffer.isBuffer(req.body)) req.body.destroy();
      const e = classifyUpstreamError(err, { server, origin: origin ?? '(invalid URL)', aborted: req.signal.aborted, phase: 'headers' });
      logFailure(e, req, logUrl, started, 'headers');
      throw e;
    }
  }

  async function send(
    req: UpstreamRequest,
    origin: string,
    path: string,
    headers: string[],
    logUrl: string,
    started: number,
  ): Promise<UpstreamResponse> {
    const { server } = req;
    const pair = serverAgents.get(server) ?? globalAgents;
    const agent = req.method === 'GET' ? pair.streams : pair.requests;
    let bodyError: unknown;
    // undici fails the request with the body's own error; remember it to tell it from transport errors.
    if (req.body && !Buffer.isBuffer(req.body)) {
      req.body.once('error', (err: unknown) => {
        bodyError ??= err;
      });
    }
    let res: Awaited<ReturnType<Agent['request']>>;
    try {
      res = await agent.request({
        origin,
        path,
        method: req.method,
        headers,
        body: req.body,
        signal: req.signal,
        responseHeaders: 'raw',
        headersTimeout: cfg.headersTimeoutMs,
        bodyTimeout: 0,
      });
    } catch (err) {
      throw classifyUpstreamError(err, {
        server,
        origin,
        aborted: req.signal.aborted,
        bodyError,
        tlsFailure: tracker.lookup(err),
        phase: 'headers',
      });
    }
    const list = responseHeaderList(res.headers);
    const body = relayBody(res.body, (err) => {
      const e = classifyUpstreamError(err, { server, origin, aborted: req.signal.aborted, bodyError, phase: 'body' });
      logFailure(e, req, logUrl, started, 'body');
      return e;
    });
    log.debug(
      {
        [F.requestId]: req.rid,
        [F.server]: server,
        [F.method]: req.method,
        [F.url]: logUrl,
        [F.status]: res.statusCode,
        [F.durationMs]: Math.round(performance.now() - started),
      },
      'upstream response headers',
    );
    return { status: res.statusCode, headers: responseHeadersForClient(list), body };
  }

  function logFailure(
    e: UpstreamError,
    req: UpstreamRequest,
    logUrl: string | undefined,
    started: number,
    phase: 'headers' | 'body',
  ): void {
    const fields = {
      [F.requestId]: req.rid,
      [F.server]: req.server,
      [F.method]: req.method,
      [F.url]: logUrl,
      [F.code]: e.code,
      [F.reason]: e.message,
      [F.durationMs]: Math.round(performance.now() - started),
      phase,
      ...(e.egress !== null ? { egress: e.egress } : {}),
    };
    // A cancelled request is the client's choice, not an upstream problem.
    if (e.code === UpstreamErrorCode.Aborted) log.debug(fields, 'upstream request aborted');
    else log.warn(fields, 'upstream request failed');
  }

  async function closeAgent(entry: AgentEntry): Promise<void> {
    if (await settledWithin(entry.agent.close(), closeGraceMs)) return;
    log.info({ [F.server]: entry.scope, graceMs: closeGraceMs }, 'destroying upstream requests still in flight');
    // In-flight requests and their bodies fail with UND_ERR_DESTROYED -> TUNNEL_UPSTREAM_CLOSED.
    await Promise.all([...entry.pools].map((pool) => pool.destroy()));
    await entry.agent.destroy();
  }

  function close(): Promise<void> {
    closing ??= Promise.all([...byTlsKey.values()].map((entry) => closeAgent(entry))).then(() => {
      tracker.clear();
      log.debug('upstream dispatcher closed');
    });
    return closing;
  }

  return { request, close };
}

/**
 * Relays an undici response body into the stream handed to the caller, so that its errors carry our
 * stable codes. Backpressure is kept (`pipe`), and destroying the returned stream destroys `source`,
 * which makes undici abort the request and close the connection.
 */
function relayBody(source: Readable, mapError: (err: unknown) => UpstreamError): Readable {
  const out = new PassThrough();
  source.on('error', (err: unknown) => {
    if (!out.destroyed) out.destroy(mapError(err));
  });
  out.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

/**
 * With `responseHeaders: 'raw'` undici hands over the raw `[name, value, …]` array (wire order, every
 * repeat); its typings still say "object", so accept both shapes.
 */
function responseHeaderList(headers: unknown): HeaderList {
  if (Array.isArray(headers)) return fromNodeRawHeaders(headers.map(String));
  const list: HeaderList = [];
  if (typeof headers === 'object' && headers !== null) {
    for (const [name, value] of Object.entries(headers as Record<string, unknown>)) {
      const values: unknown[] = Array.isArray(value) ? value : [value];
      for (const v of values) if (typeof v === 'string') list.push([name.toLowerCase(), v]);
    }
  }
  return list;
}
