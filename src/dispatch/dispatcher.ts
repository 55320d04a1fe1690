import { performance } from 'node:perf_hooks';
import type { Agent } from 'undici';
import type { ProxyConfig } from '../config/types';
import { responseHeadersForClient } from '../http/headers';
import { F, componentLogger, type Logger } from '../log';
import { UpstreamAgents } from './agents';
import { classifyUpstreamError } from './classify';
import type { EgressGuard } from './connector';
import { EgressPolicy, type EgressDecision, type EgressResolver } from './egress';
import { UpstreamError, UpstreamErrorCode } from './errors';
import { prepareRequestHeaders } from './request-headers';
import { relayBody, responseHeaderList } from './response-body';
import { parseUpstreamUrl } from './target';
import type { UpstreamDispatcher, UpstreamRequest, UpstreamResponse } from './types';

export { DEFAULT_STREAM_CONNECTIONS_PER_ORIGIN } from './agents';

/**
 * How long `close()` lets in-flight requests finish before destroying them. Long-lived SSE streams
 * never finish on their own, so without this bound shutdown would wait for hours; 5 s covers ordinary
 * JSON responses in flight. Callers that cancel their streams first (abort signals) see no wait.
 */
export const DEFAULT_CLOSE_GRACE_MS = 5_000;

/** Options beyond the configuration file. */
export interface UpstreamDispatcherOptions {
  /** See {@link DEFAULT_CLOSE_GRACE_MS}. */
  closeGraceMs?: number;
  /** Host name resolver used when `cfg.allow` is set (default `dns.lookup`); for tests. */
  resolver?: EgressResolver;
}

/**
 * Creates the proxy's dispatcher to internal MCP servers.
 *
 * Requests go out over pooled undici agents, one request pool and one GET-stream pool per distinct
 * TLS configuration (see {@link UpstreamAgents} for the pools and timeouts; PEM files are read here,
 * once). Every connection passes the egress allowlist `cfg.allow` when one is set.
 *
 * @throws UpstreamError `TUNNEL_UPSTREAM_TLS_CONFIG` when TLS material cannot be loaded.
 */
export function createUpstreamDispatcher(
  cfg: ProxyConfig['upstream'],
  logger: Logger,
  options: UpstreamDispatcherOptions = {},
): UpstreamDispatcher {
  const log = componentLogger(logger, 'dispatch');
  const agents = new UpstreamAgents(cfg, log, egressGuard(cfg, log, options.resolver));
  const dispatcher = new PooledDispatcher(agents, log, cfg.headersTimeoutMs, options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
  return { request: (req) => dispatcher.request(req), close: () => dispatcher.close() };
}

/** The egress allowlist as the connectors enforce it; each per-address decision is logged at debug. */
function egressGuard(cfg: ProxyConfig['upstream'], log: Logger, resolver: EgressResolver | undefined): EgressGuard {
  // Throws EgressRuleError for a bad rule; the config loader has already validated them.
  const policy = EgressPolicy.fromRules(cfg.allow);
  if (policy.enabled) log.info({ rules: policy.rules.map((r) => r.text) }, 'egress allowlist active');
  return { policy, resolver, onDecision: (d: EgressDecision) => log.debug({ egress: d.decision }, 'egress decision') };
}

/** One request on its way, with what the log lines about its outcome need. */
interface Attempt {
  req: UpstreamRequest;
  started: number;
  /** Origin and path without the query, which may carry secrets (tokens in legacy SSE URLs). */
  logUrl: string | undefined;
}

/** The fields every log line about an upstream attempt starts with. */
function attemptFields({ req, logUrl }: Attempt): Record<string, unknown> {
  return { [F.requestId]: req.rid, [F.server]: req.server, [F.method]: req.method, [F.url]: logUrl };
}

/** The first error a request body stream emitted; undici fails the request with that very error. */
interface BodyErrorWatch {
  error: unknown;
}

function watchBodyError(body: UpstreamRequest['body']): BodyErrorWatch {
  const watch: BodyErrorWatch = { error: undefined };
  if (body && !Buffer.isBuffer(body)) {
    body.once('error', (err: unknown) => {
      watch.error ??= err;
    });
  }
  return watch;
}

/** The request path of {@link createUpstreamDispatcher}: check, send, classify and log each failure once. */
class PooledDispatcher implements UpstreamDispatcher {
  private closing: Promise<void> | null = null;

  constructor(
    private readonly agents: UpstreamAgents,
    private readonly log: Logger,
    private readonly headersTimeoutMs: number,
    private readonly closeGraceMs: number,
  ) {}

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    const attempt: Attempt = { req, started: performance.now(), logUrl: undefined };
    const { server } = req;
    let origin: string | null = null;
    try {
      this.assertOpen(server);
      const target = parseUpstreamUrl(req.url, server);
      origin = target.origin;
      attempt.logUrl = `${target.origin}${target.path.split('?', 1)[0] ?? ''}`;
      if (req.signal.aborted) {
        throw new UpstreamError(UpstreamErrorCode.Aborted, `request to upstream ${origin} (server "${server}") aborted before it was sent`, {
          server,
          origin,
          cause: req.signal.reason,
        });
      }
      const headers = prepareRequestHeaders(req.headers, server, origin);
      return await this.send(attempt, target.origin, target.path, headers.flat);
    } catch (err) {
      // Everything thrown before undici took the body: release it ourselves (undici does otherwise).
      if (req.body && !Buffer.isBuffer(req.body)) req.body.destroy();
      const e = classifyUpstreamError(err, { server, origin: origin ?? '(invalid URL)', aborted: req.signal.aborted, phase: 'headers' });
      this.logFailure(e, attempt, 'headers');
      throw e;
    }
  }

  close(): Promise<void> {
    this.closing ??= this.agents.close(this.closeGraceMs).then(() => this.log.debug('upstream dispatcher closed'));
    return this.closing;
  }

  private assertOpen(server: string): void {
    if (this.closing === null) return;
    throw new UpstreamError(UpstreamErrorCode.Closed, `dispatcher is closed; request for server "${server}" not sent`, {
      server,
      origin: null,
      retryable: true,
    });
  }

  /** Sends the request and hands back the response head with a body whose errors carry our codes. */
  private async send(attempt: Attempt, origin: string, path: string, headers: string[]): Promise<UpstreamResponse> {
    const { req } = attempt;
    const bodyError = watchBodyError(req.body);
    const res = await this.responseHead(req, origin, path, headers, bodyError);
    const list = responseHeaderList(res.headers);
    const body = relayBody(res.body, (err) => {
      const e = classifyUpstreamError(err, {
        server: req.server,
        origin,
        aborted: req.signal.aborted,
        bodyError: bodyError.error,
        phase: 'body',
      });
      this.logFailure(e, attempt, 'body');
      return e;
    });
    // Built only when debug is on: the object and the clock read cost on every request otherwise.
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug(
        {
          ...attemptFields(attempt),
          [F.status]: res.statusCode,
          [F.durationMs]: Math.round(performance.now() - attempt.started),
        },
        'upstream response headers',
      );
    }
    return { status: res.statusCode, headers: responseHeadersForClient(list), body };
  }

  /** undici's request up to the response head; a failure is classified with what only this step knows. */
  private async responseHead(
    req: UpstreamRequest,
    origin: string,
    path: string,
    headers: string[],
    bodyError: BodyErrorWatch,
  ): Promise<Awaited<ReturnType<Agent['request']>>> {
    try {
      return await this.agents.agentFor(req.server, req.method).request({
        origin,
        path,
        method: req.method,
        headers,
        body: req.body,
        signal: req.signal,
        responseHeaders: 'raw',
        headersTimeout: this.headersTimeoutMs,
        bodyTimeout: 0,
      });
    } catch (err) {
      throw classifyUpstreamError(err, {
        server: req.server,
        origin,
        aborted: req.signal.aborted,
        bodyError: bodyError.error,
        tlsFailure: this.agents.tracker.lookup(err),
        phase: 'headers',
      });
    }
  }

  private logFailure(e: UpstreamError, attempt: Attempt, phase: 'headers' | 'body'): void {
    const fields = {
      ...attemptFields(attempt),
      [F.code]: e.code,
      [F.reason]: e.message,
      [F.durationMs]: Math.round(performance.now() - attempt.started),
      phase,
      ...(e.egress !== null ? { egress: e.egress } : {}),
    };
    // A cancelled request is the client's choice, not an upstream problem.
    if (e.code === UpstreamErrorCode.Aborted) this.log.debug(fields, 'upstream request aborted');
    else this.log.warn(fields, 'upstream request failed');
  }
}
