/**
 * The gateway's request path for `/mcp/{server}[/{path}]`, in three steps with one owner each:
 *
 * 1. admit (./request/admit.ts): identity, body rules, limits, target and session, policy — the
 *    request is read once, and what was checked is what will be forwarded;
 * 2. exchange (./request/exchange.ts): a tunnel connection, one stream, both directions pumped with
 *    end-to-end backpressure through one digest, cancellation when either side leaves;
 * 3. respond (./request/respond.ts): every answer the gateway gives itself, the mapping of tunnel
 *    failures to statuses, and the one audit record, written when the exchange is over.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applyCors } from './cors';
import { recordGatewayExchange } from './record-tap';
import { admit } from './request/admit';
import { createRequestContext, type ForwardDeps, type McpRoute } from './request/context';
import { Exchange, openExchange } from './request/exchange';
import { finishRecord } from './request/respond';
import { ResumableResponse } from './resume';

export type { ForwardDeps, ForwardState } from './request/context';

/**
 * Serves one MCP request: admit it, exchange it through the tunnel, record it. Never rejects for a
 * request-level problem (each is answered to the client); a rejection is a gateway bug.
 */
export async function forwardMcpRequest(req: IncomingMessage, res: ServerResponse, route: McpRoute, deps: ForwardDeps): Promise<void> {
  const ctx = createRequestContext(req, res, route, deps);
  applyCors(req, res);
  const admitted = await admit(ctx, deps);
  if (admitted === null) return;
  const opened = await openExchange(ctx, admitted, deps);
  if (opened === null) return;
  const { conn, stream } = opened;
  recordGatewayExchange(deps.recorder, ctx, stream);
  const at = { server: admitted.server.name, tunnelId: conn.tunnelId, connId: conn.id, owner: admitted.owner };
  const resume = ResumableResponse.for(ctx, admitted, conn, deps);
  const plan = { admitted, at, sessions: deps.registry.sessions, piped: admitted.admission.body.kind === 'prefix', resume };
  await new Exchange(ctx, stream, plan, () => deps.registry.notify(conn.tunnelId)).run();
  await resume?.settled();
  await finishRecord(ctx, stream, admitted.admission.body.kind !== 'none');
}
