import type { Recorder } from '../../replay';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestAudit, type AuditTrail, type BodyCaptureConfig, type GatewayAuditRecord } from '../../audit';
import { F, type Logger } from '../../log';
import type { ClientAuthenticator } from '../auth';
import type { CompiledPolicy, PolicyRuntime } from '../policy';
import type { TunnelRegistry } from '../tunnels';

/** What the request path reads per request; replaced as a whole when the configuration reloads. */
export interface ForwardState {
  clients: ClientAuthenticator;
  servers: ReadonlyMap<string, ServerEntry>;
  maxRequestBodyBytes: number;
  connectWaitMs: number;
  /** `limits.maxOpenStreamsPerClient` (GET streams per identity); absent = the default. */
  maxOpenStreamsPerClient?: number;
  /** Request policy of this configuration generation (docs/policy.md). */
  policy: CompiledPolicy;
  /** Body capture for audit records (`audit.bodies`); null = off (the default). */
  auditBodies?: BodyCaptureConfig | null;
  /** `limits.resumeWindowMs`: how long a broken resumable SSE stream is retried (0 = never). */
  resumeWindowMs: number;
}

/** A configured MCP server. */
export interface ServerEntry {
  name: string;
  tunnel: string;
  url: string;
}

/** What the request path uses that outlives one request. */
export interface ForwardDeps {
  state: () => ForwardState;
  /** Tunnel connections; `registry.sessions` is the one SessionBinding of the gateway. */
  registry: TunnelRegistry;
  logger: Logger;
  audit: AuditTrail;
  /** Policy state kept across reloads: rate buckets, in-flight counts. */
  policy: PolicyRuntime;
  /** Records forwarded traffic (the `record` config, docs/replay.md); absent = not recording. */
  recorder?: Recorder;
}

/** Route of an MCP request: `/mcp/{server}{rest}{search}`. */
export interface McpRoute {
  server: string;
  rest: string;
  search: string;
}

/** One request's identity on the path: its exchange with the client, id, audit record and logger. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly rid: string;
  readonly route: McpRoute;
  /** The configuration generation this request was admitted under (read once). */
  readonly state: ForwardState;
  readonly audit: RequestAudit<GatewayAuditRecord>;
  /** A child logger with the request id and server (built on demand: only unusual paths log). */
  readonly log: () => Logger;
}

/** Starts a request: a fresh id, its audit record (written when it finishes), its logger. */
export function createRequestContext(req: IncomingMessage, res: ServerResponse, route: McpRoute, deps: ForwardDeps): RequestContext {
  const rid = randomUUID();
  const audit = RequestAudit.gateway(
    { rid, client: null, server: route.server, tunnel: null, httpMethod: req.method ?? 'GET', path: `/mcp/${route.server}${route.rest}` },
    deps.audit.hooks,
  );
  return { req, res, rid, route, state: deps.state(), audit, log: () => deps.logger.child({ [F.requestId]: rid, [F.server]: route.server }) };
}
