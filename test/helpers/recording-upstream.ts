/**
 * A recording upstream for the differential harness (issue 8): real MCP servers built the way real
 * servers are built — the official SDK's `createMcpExpressApp` (Host check + `express.json`, which
 * honours `charset` and `Content-Encoding`) with the routes of the SDK's own examples — that log
 * every JSON-RPC message the SDK actually dispatched, as the SDK parsed it.
 *
 * One origin serves three "servers":
 * - `notes`: Streamable HTTP, stateful, at `/mcp` (`app.post/get/delete('/mcp')`, sessions keyed on
 *   `Mcp-Session-Id`). It routes on a `tenant` query parameter, as multi-tenant servers do:
 *   `?tenant=admin` is handed to the `admin` server.
 * - `legacy`: HTTP+SSE (2024-11-05), `GET /sse` + `POST /messages`, routed on `req.query.sessionId`
 *   exactly as the SDK's example does.
 * - `admin`: Streamable HTTP, stateless, at `/admin-mcp` (and `/mcp?tenant=admin`): a second server on
 *   the same origin, to catch requests that escape their configured endpoint.
 *
 * Each server has the tools `echo` and `evil`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { isInitializeRequest, type CallToolResult, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** Which of the origin's servers executed a message. */
export type UpstreamServerName = 'notes' | 'legacy' | 'admin';

/** One JSON-RPC message the SDK dispatched to a server (what actually ran). */
export interface ExecutedMessage {
  server: UpstreamServerName;
  transport: 'streamable' | 'sse';
  /** HTTP request (as the upstream saw it) that carried the message. */
  httpMethod: string;
  path: string;
  query: string;
  /** Session of the transport that dispatched it (`Mcp-Session-Id` or legacy `sessionId`); null when stateless. */
  sessionId: string | null;
  method: string | null;
  /** `params.name` of a `tools/call`, else null. */
  tool: string | null;
  id: string | number | null;
  /** The HTTP body was a JSON array (a batch), as express.json parsed it. */
  batch: boolean;
}

/** One tool body that ran. */
export interface ToolRun {
  server: UpstreamServerName;
  tool: string;
  sessionId: string | null;
}

/** Every HTTP request that reached the upstream, before any routing. */
export interface ArrivedRequest {
  method: string;
  url: string;
  contentType: string | null;
  contentEncoding: string | null;
}

/** A running recording upstream. */
export interface RecordingUpstream {
  origin: string;
  /** Configured URL of each server (`admin` also reachable as `/mcp?tenant=admin`). */
  urls: Record<UpstreamServerName, string>;
  executed: ExecutedMessage[];
  toolRuns: ToolRun[];
  arrived: ArrivedRequest[];
  /** Live sessions by id: which server and transport. */
  sessions: Map<string, { server: UpstreamServerName; transport: 'streamable' | 'sse' }>;
  close(): Promise<void>;
}

interface HttpContext {
  httpMethod: string;
  path: string;
  query: string;
  batch: boolean;
}

/** The slice of an express app and request this fixture uses (the repo has no @types/express). */
interface ExpressRequest extends IncomingMessage {
  body?: unknown;
  query: Record<string, unknown>;
  path: string;
}
type Handler = (req: ExpressRequest, res: ServerResponse & { status(c: number): { send(b: string): void } }, next: () => void) => unknown;
interface MiniExpress {
  use(h: Handler): void;
  get(path: string, h: Handler): void;
  post(path: string, h: Handler): void;
  delete(path: string, h: Handler): void;
  listen(port: number, host: string, cb: () => void): Server;
}

function text(value: string): CallToolResult {
  return { content: [{ type: 'text', text: value }] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Starts the recording upstream on 127.0.0.1, port 0. */
export async function startRecordingUpstream(): Promise<RecordingUpstream> {
  const executed: ExecutedMessage[] = [];
  const toolRuns: ToolRun[] = [];
  const arrived: ArrivedRequest[] = [];
  const sessions = new Map<string, { server: UpstreamServerName; transport: 'streamable' | 'sse' }>();
  const http = new AsyncLocalStorage<HttpContext>();
  const open = new Set<Transport>();

  const newServer = (name: UpstreamServerName, sessionOf: () => string | null): McpServer => {
    const server = new McpServer({ name: `recording-${name}`, version: '1.0.0' });
    const args = { text: z.string().optional(), pad: z.string().optional() };
    for (const tool of ['echo', 'evil']) {
      server.registerTool(tool, { description: `${tool} tool`, inputSchema: args }, (a: { text?: string }) => {
        toolRuns.push({ server: name, tool, sessionId: sessionOf() });
        return text(a.text ?? tool);
      });
    }
    return server;
  };

  /** Connects server and transport and records every message the SDK dispatches from then on. */
  const connect = async (name: UpstreamServerName, kind: 'streamable' | 'sse', server: McpServer, t: Transport): Promise<void> => {
    await server.connect(t);
    open.add(t);
    const dispatch = t.onmessage;
    t.onmessage = (message: JSONRPCMessage, extra) => {
      const ctx = http.getStore();
      const m: Record<string, unknown> = isObject(message) ? message : {};
      const params = isObject(m.params) ? m.params : {};
      const method = typeof m.method === 'string' ? m.method : null;
      const id = typeof m.id === 'string' || typeof m.id === 'number' ? m.id : null;
      executed.push({
        server: name,
        transport: kind,
        httpMethod: ctx?.httpMethod ?? '?',
        path: ctx?.path ?? '?',
        query: ctx?.query ?? '',
        sessionId: t.sessionId ?? null,
        method,
        tool: method === 'tools/call' && typeof params.name === 'string' ? params.name : null,
        id,
        batch: ctx?.batch ?? false,
      });
      dispatch?.(message, extra);
    };
  };

  const streamable = new Map<string, StreamableHTTPServerTransport>();
  const legacy = new Map<string, SSEServerTransport>();

  const app = createMcpExpressApp() as unknown as MiniExpress;
  app.use((req, _res, next) => {
    const q = req.url?.indexOf('?') ?? -1;
    const url = req.url ?? '/';
    arrived.push({
      method: req.method ?? '?',
      url,
      contentType: req.headers['content-type'] ?? null,
      contentEncoding: req.headers['content-encoding'] ?? null,
    });
    const ctx: HttpContext = { httpMethod: req.method ?? '?', path: req.path, query: q < 0 ? '' : url.slice(q), batch: Array.isArray(req.body) };
    http.run(ctx, next);
  });

  /** Stateless admin server: a fresh server and transport per request, as the SDK's stateless example. */
  const admin: Handler = async (req, res) => {
    const t = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    const server = newServer('admin', () => null);
    await connect('admin', 'streamable', server, t);
    res.on('close', () => {
      open.delete(t);
      void t.close();
      void server.close();
    });
    await t.handleRequest(req, res, req.body);
  };
  const tenantAdmin = (req: ExpressRequest): boolean => {
    const t = req.query.tenant;
    return t === 'admin' || (Array.isArray(t) && t.includes('admin'));
  };

  // Streamable HTTP, as the SDK's simpleStreamableHttp example (plus tenant routing).
  app.post('/mcp', async (req, res, next) => {
    if (tenantAdmin(req)) return admin(req, res, next);
    const sid = req.headers['mcp-session-id'];
    const known = typeof sid === 'string' ? streamable.get(sid) : undefined;
    if (known) return known.handleRequest(req, res, req.body);
    if (sid === undefined && isInitializeRequest(req.body)) {
      let id: string | null = null;
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (s) => {
          id = s;
          streamable.set(s, t);
          sessions.set(s, { server: 'notes', transport: 'streamable' });
        },
      });
      t.onclose = () => {
        if (id !== null) {
          streamable.delete(id);
          sessions.delete(id);
        }
        open.delete(t);
      };
      await connect('notes', 'streamable', newServer('notes', () => id), t);
      return t.handleRequest(req, res, req.body);
    }
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null }));
  });
  const bySession: Handler = async (req, res, next) => {
    if (tenantAdmin(req)) return admin(req, res, next);
    const sid = req.headers['mcp-session-id'];
    const known = typeof sid === 'string' ? streamable.get(sid) : undefined;
    if (!known) return void res.writeHead(400).end('Invalid or missing session ID');
    await known.handleRequest(req, res, req.body);
  };
  app.get('/mcp', bySession);
  app.delete('/mcp', bySession);
  app.post('/admin-mcp', admin);

  // Legacy HTTP+SSE, as the SDK's simpleSseServer example.
  app.get('/sse', async (_req, res) => {
    const t = new SSEServerTransport('/messages', res);
    legacy.set(t.sessionId, t);
    sessions.set(t.sessionId, { server: 'legacy', transport: 'sse' });
    t.onclose = () => {
      legacy.delete(t.sessionId);
      sessions.delete(t.sessionId);
      open.delete(t);
    };
    await connect('legacy', 'sse', newServer('legacy', () => t.sessionId), t);
  });
  app.post('/messages', async (req, res) => {
    const sessionId = req.query.sessionId as string;
    const t = legacy.get(sessionId);
    if (!t) return void res.status(400).send('No transport found for sessionId');
    await t.handlePostMessage(req, res, req.body);
  });

  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    urls: { notes: `${origin}/mcp?tenant=notes`, legacy: `${origin}/sse`, admin: `${origin}/admin-mcp` },
    executed,
    toolRuns,
    arrived,
    sessions,
    async close() {
      await Promise.allSettled([...open].map((t) => t.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
