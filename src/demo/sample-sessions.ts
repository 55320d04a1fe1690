import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { describeError } from '../errors';
import { F, type Logger } from '../log';
import { createSampleMcpServer } from './sample-tools';

interface Session {
  server: McpServer;
  transport: StreamableHTTPServerTransport;
}

/**
 * The sample server's MCP sessions: each `initialize` creates one (id from `randomUUID`) with its own
 * `McpServer` and transport; later requests are routed on `Mcp-Session-Id`. An unknown id gets 404,
 * which makes clients re-initialize.
 */
export class SampleSessions {
  private readonly sessions = new Map<string, Session>();
  // Every transport, including ones whose initialize is still in flight, so closeAll() reaches them.
  private readonly transports = new Set<StreamableHTTPServerTransport>();

  constructor(private readonly log: Logger) {}

  /** Handles one request to the MCP endpoint: in its session, or in a new one when it names none. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = this.sessions.get(sessionId);
      if (session === undefined) {
        writeJsonRpcError(res, 404, -32001, 'Session not found');
        return;
      }
      await session.transport.handleRequest(req, res);
      return;
    }
    // No session id: only an initialize can succeed. A fresh transport answers anything else with
    // the SDK's own 400, and is dropped again below.
    const session = this.open();
    await session.server.connect(session.transport);
    try {
      await session.transport.handleRequest(req, res);
    } finally {
      if (session.transport.sessionId === undefined) await session.server.close();
    }
  }

  /** Closes every transport (open SSE streams end, in-flight tool calls are aborted); never rejects. */
  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.transports].map((t) => t.close()));
  }

  private open(): Session {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sessionId) => {
        this.sessions.set(sessionId, session);
        this.log.info({ sessionId }, 'session opened');
      },
      onsessionclosed: (sessionId) => {
        this.log.info({ sessionId }, 'session ended by client');
      },
    });
    const server = createSampleMcpServer();
    const session: Session = { server, transport };
    this.transports.add(transport);
    // Set before connect(): the SDK chains a handler that is already there.
    transport.onclose = () => {
      this.transports.delete(transport);
      if (transport.sessionId !== undefined && this.sessions.delete(transport.sessionId)) {
        this.log.debug({ sessionId: transport.sessionId }, 'session closed');
      }
    };
    server.server.onerror = (err) => this.log.debug({ [F.err]: describeError(err) }, 'mcp protocol error');
    return session;
  }
}

/** Answers with a JSON-RPC error object (id null), the way the SDK's transport does. */
export function writeJsonRpcError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}
