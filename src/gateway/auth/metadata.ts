import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from '../http-errors';
import type { ClientAuthenticator } from './authenticator';

export interface MetadataDeps {
  clients: ClientAuthenticator;
  servers: ReadonlyMap<string, unknown>;
}

const CORS = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, HEAD, OPTIONS' };

/**
 * Answers `GET /.well-known/oauth-protected-resource[/mcp/{server}]` (RFC 9728): the gateway's or one
 * server's protected resource metadata, readable cross-origin (browser MCP clients discover it).
 * 404 when `auth.jwt` is not configured or the server is unknown; 405 for methods other than
 * GET, HEAD and OPTIONS.
 */
export function serveResourceMetadata(req: IncomingMessage, res: ServerResponse, server: string | null, deps: MetadataDeps): void {
  req.resume();
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') {
    res.writeHead(204, { ...CORS, 'access-control-max-age': '600' });
    res.end();
    return;
  }
  if (method !== 'GET' && method !== 'HEAD') {
    sendError(res, 405, { code: 'TUNNEL_METHOD_NOT_ALLOWED', message: `${method} is not allowed on protected resource metadata` }, { server, rid: '' }, { allow: 'GET, HEAD, OPTIONS' });
    return;
  }
  const doc = deps.clients.metadata(req, server);
  if (doc === null) {
    sendError(res, 404, { code: 'TUNNEL_NOT_FOUND', message: 'no OAuth protected resource metadata: the gateway accepts no bearer JWTs (auth.jwt is not set)' }, { server, rid: '' });
    return;
  }
  if (server !== null && !deps.servers.has(server)) {
    sendError(res, 404, { code: 'TUNNEL_UNKNOWN_SERVER', message: `unknown server "${server}"` }, { server, rid: '' });
    return;
  }
  const body = JSON.stringify(doc);
  res.writeHead(200, { ...CORS, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=60' });
  res.end(method === 'HEAD' ? undefined : body);
}
