import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { componentLogger, F, silentLogger, type Logger } from '../log';
import { describeError } from '../errors';
import { SampleSessions, writeJsonRpcError } from './sample-sessions';

/** The path the sample server answers MCP requests on. */
export const SAMPLE_MCP_PATH = '/mcp';

/** Options of {@link startSampleServer}; all optional. */
export interface SampleServerOptions {
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Port to listen on; default 0 (an ephemeral port, read it back from `url`). */
  port?: number;
  /** Parent logger; a `component: 'demo'` child is derived from it. Default: silent. */
  logger?: Logger;
}

/** A running sample server. */
export interface SampleServer {
  /** The MCP endpoint, e.g. `http://127.0.0.1:43117/mcp`. */
  url: string;
  /**
   * Ends every session (open SSE streams are closed, in-flight tool calls are aborted), stops
   * listening and destroys the remaining sockets. Resolves once the listening socket is closed;
   * calling it again is harmless.
   */
  close(): Promise<void>;
}

/**
 * Starts a Streamable HTTP MCP server with the demo tools (`echo`, `add`, `countdown`, `whoami`).
 *
 * Stateful: each `initialize` creates a session (id from `randomUUID`) with its own `McpServer` and
 * transport; later requests carry `Mcp-Session-Id`; GET opens the standalone SSE stream and DELETE
 * ends the session. An unknown session id gets 404, which makes clients re-initialize.
 *
 * @throws when the port cannot be bound (the listen error, e.g. `EADDRINUSE`).
 */
export async function startSampleServer(opts: SampleServerOptions = {}): Promise<SampleServer> {
  const log = componentLogger(opts.logger ?? silentLogger(), 'demo', { [F.server]: 'sample' });
  const sessions = new SampleSessions(log);
  let closing = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== SAMPLE_MCP_PATH) writeJsonRpcError(res, 404, -32000, `Not found: ${url.pathname} (the MCP endpoint is ${SAMPLE_MCP_PATH})`);
    else if (closing) writeJsonRpcError(res, 503, -32000, 'Server is shutting down');
    else await sessions.handle(req, res);
  };
  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.warn({ [F.err]: describeError(err), [F.method]: req.method, [F.url]: req.url }, 'request failed');
      if (!res.headersSent) writeJsonRpcError(res, 500, -32603, 'Internal error');
      else res.destroy();
    });
  });

  const address = await listen(http, opts.host ?? '127.0.0.1', opts.port ?? 0);
  const url = `http://${urlHost(address)}:${address.port}${SAMPLE_MCP_PATH}`;
  log.info({ [F.url]: url }, 'sample MCP server listening');

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      closing = true;
      await sessions.closeAll();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      log.info({ [F.url]: url }, 'sample MCP server closed');
    })();
    return closed;
  };

  return { url, close };
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** A connectable host for the URL: wildcard binds are reached on loopback; IPv6 gets brackets. */
function urlHost(address: AddressInfo): string {
  if (address.address === '0.0.0.0') return '127.0.0.1';
  if (address.address === '::') return '[::1]';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}
