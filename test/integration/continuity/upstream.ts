/**
 * A light resumable MCP upstream for the continuity tests: the official SDK's
 * StreamableHTTPServerTransport with an event store (ids on every event), one low-level `Server`
 * per session with a single `progress` tool. The shared fixture's McpServer with all its tools costs
 * tens of milliseconds per session, too much for 200 sessions on a shared CI box.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { OrderedEventStore } from '../../fixtures/mcp-upstream';

export interface LightUpstream {
  url: string;
  /** Requests received with `Last-Event-ID` (resumptions, by the gateway or a client). */
  resumes: number;
  /** Progress notifications sent so far, all calls together. */
  progressSent: number;
  /** Sends `notifications/message` with `data` to every session (its standalone GET stream). */
  broadcast(data: string): Promise<void>;
  close(): Promise<void>;
}

function sessionServer(handle: LightUpstream): Server {
  const server = new Server({ name: 'continuity-upstream', version: '1' }, { capabilities: { tools: {}, logging: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: 'progress', inputSchema: { type: 'object' } }] }));
  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const args = (req.params.arguments ?? {}) as { steps?: number; intervalMs?: number };
    const steps = args.steps ?? 3;
    const token = req.params._meta?.progressToken;
    for (let step = 1; step <= steps; step++) {
      if (token !== undefined) {
        handle.progressSent++;
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: step, total: steps } });
      }
      await new Promise((r) => setTimeout(r, args.intervalMs ?? 50));
    }
    return { content: [{ type: 'text', text: `done ${steps}` }] };
  });
  return server;
}

/** Starts the upstream on a loopback port; `url` is its MCP endpoint. */
export async function startLightUpstream(): Promise<LightUpstream> {
  const sessions = new Map<string, { server: Server; transport: StreamableHTTPServerTransport }>();
  const handle: LightUpstream = {
    url: '',
    resumes: 0,
    progressSent: 0,
    broadcast: async (data) => {
      await Promise.all([...sessions.values()].map((s) => s.server.sendLoggingMessage({ level: 'info', data }).catch(() => undefined)));
    },
    close: () => Promise.resolve(),
  };
  const httpServer = http.createServer((req, res) => {
    if (req.headers['last-event-id'] !== undefined) handle.resumes++;
    const sid = req.headers['mcp-session-id'];
    const existing = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (typeof sid === 'string' && !existing) {
      res.writeHead(404).end();
      return;
    }
    void (async () => {
      if (existing) return existing.transport.handleRequest(req, res);
      const server = sessionServer(handle);
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        eventStore: new OrderedEventStore(),
        onsessioninitialized: (id) => void sessions.set(id, { server, transport }),
      });
      await server.connect(transport);
      await transport.handleRequest(req, res);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  handle.url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/mcp`;
  handle.close = async () => {
    await Promise.all([...sessions.values()].map((s) => s.server.close().catch(() => undefined)));
    sessions.clear();
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  };
  return handle;
}
