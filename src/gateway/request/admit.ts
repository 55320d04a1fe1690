/**
 * The admit step: everything decided before a byte enters the tunnel, each rule read off the one
 * reading of the request (Host/Origin were checked by ../gateway.ts before this). In order:
 * identity, the server, the client's grant, the body header rules, the open-stream limit, the
 * declared body size, the target and its session binding, then the policy, which reads the body
 * (bounded) where it needs it. The body limit is one {@link BodyLimit} for the whole request.
 */
import type { ClientIdentity } from '../auth';
import { BodyLimit, checkBodyHeaders, hasRequestBody } from '../body';
import { GatewayError } from '../errors';
import { admitRequest, admitStream, subjectKey, type Admission } from '../policy';
import { resolveTarget, type RequestTarget } from '../target';
import type { ForwardDeps, RequestContext, ServerEntry } from './context';
import { asGatewayError, reject } from './respond';

/** A request that may enter the tunnel, and what the exchange needs to forward it. */
export interface Admitted {
  client: ClientIdentity;
  /** Subject key of the client (the owner recorded for its sessions). */
  owner: string;
  server: ServerEntry;
  target: RequestTarget;
  /** The body as read and the `tools/list` filter to apply to the response. */
  admission: Admission;
  /** The request's body limit: the rest of a streamed body counts against the same total. */
  limit: BodyLimit;
}

/** The header-only checks, in order; the first refusal wins. */
function checkHead(ctx: RequestContext, client: ClientIdentity, deps: ForwardDeps): { server: ServerEntry; limit: BodyLimit } | GatewayError {
  const { req, res, state, audit } = ctx;
  const server = state.servers.get(ctx.route.server);
  if (!server) return new GatewayError('TUNNEL_UNKNOWN_SERVER', `unknown server "${ctx.route.server}"`);
  audit.annotate({ tunnel: server.tunnel });
  const refused =
    state.clients.authorize(client, server.name) ??
    checkBodyHeaders(req) ??
    admitStream(req, res, client, state.maxOpenStreamsPerClient, deps.policy.limiter);
  if (refused) return refused;
  const limit = new BodyLimit(state.maxRequestBodyBytes);
  return limit.checkDeclared(req.headers['content-length']) ?? { server, limit };
}

/**
 * Admits `ctx`'s request or answers it. Resolves null when it was answered here (refused, or the
 * client left while its body was read): the audit record is then finished and nothing reached the
 * tunnel.
 */
export async function admit(ctx: RequestContext, deps: ForwardDeps): Promise<Admitted | null> {
  const { req, state, audit } = ctx;
  let client: ClientIdentity;
  try {
    client = await state.clients.authenticate(req.headers.authorization);
  } catch (err) {
    reject(ctx, asGatewayError(err));
    return null;
  }
  audit.annotate({ client: client.name });
  const head = checkHead(ctx, client, deps);
  if (head instanceof GatewayError) {
    reject(ctx, head);
    return null;
  }
  const owner = subjectKey(client);
  const { server, limit } = head;
  const target = resolveTarget({ req, route: ctx.route, serverUrl: server.url, subject: owner, sessions: deps.registry.sessions, audit, log: ctx.log });
  if (target instanceof GatewayError) {
    reject(ctx, target);
    return null;
  }
  if (target.sessionKey) audit.annotate({ sessionId: target.sessionKey.slice(0, 64) });
  const admission = await admitRequest({
    req, res: ctx.res, rid: ctx.rid, server: server.name, subject: client, legacy: target.legacy, hasBody: hasRequestBody(req),
    policy: state.policy, runtime: deps.policy, limit, audit, log: ctx.log, reject: (err) => reject(ctx, err),
  });
  return admission === null ? null : { client, owner, server, target, admission, limit };
}
