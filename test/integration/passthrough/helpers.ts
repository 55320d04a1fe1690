/**
 * Shared set-up for the passthrough suite (docs: /work/shared/mcp-passthrough.md): a real SDK
 * upstream behind gateway → tunnel → proxy, SDK clients that authenticate to the gateway, and a raw
 * HTTP client for the byte-level checks the SDK cannot express.
 */
import http from 'node:http';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import {
  startStreamableUpstream,
  type StreamableUpstreamHandle,
  type StreamableUpstreamOptions,
} from '../../fixtures/mcp-upstream';
import { Resources, connectClient, type ConnectClientOptions, type ConnectedClient } from '../../helpers';
import { startHarness, type Harness, type HarnessOptions } from '../../helpers/tunnel-harness';

/** Name of the MCP server in the harness configuration. */
export const SERVER = 'notes';

/** What an SDK client sends on a POST. */
export const POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } as const;

export interface Tunnelled {
  upstream: StreamableUpstreamHandle;
  h: Harness;
  /** `http://127.0.0.1:GW/mcp/notes` */
  mcpUrl: URL;
  /** `{ authorization: 'Bearer <key>' }` */
  auth: Record<string, string>;
  /**
   * Gateway URL of an upstream raw route. The gateway routes only to configured URLs (a sub-path of
   * `/mcp/notes` is no upstream path), so the first call for a path configures a server `raw-N`
   * at `{upstream origin}{path}` (a configuration reload) and returns `/mcp/raw-N{query}`.
   */
  viaTunnel(pathAndQuery: string): string;
  /** The same raw route on the upstream directly. */
  direct(pathAndQuery: string): string;
  /**
   * An SDK client (StreamableHTTPClientTransport) connected through the gateway with the API key;
   * closed by `res`. `search` (e.g. `?x=1`) is appended to the endpoint URL.
   */
  connect(opts?: ConnectClientOptions & { transport?: 'streamable'; search?: string }): Promise<ConnectedClient>;
}

/**
 * Starts an upstream and a harness in front of it; both (and every client made with `connect`)
 * are registered with `res`, which closes clients first, then the harness, then the upstream.
 */
export async function startTunnelled(
  res: Resources,
  opts: { upstream?: StreamableUpstreamOptions; harness?: Omit<HarnessOptions, 'servers'> } = {},
): Promise<Tunnelled> {
  const upstream = res.add(await startStreamableUpstream(opts.upstream));
  const h = res.add(await startHarness({ ...opts.harness, servers: [{ name: SERVER, url: upstream.url }] }));
  const auth = { authorization: `Bearer ${h.apiKey}` };
  const rawServers = new Map<string, string>();
  const viaTunnel = (pathAndQuery: string): string => {
    const q = pathAndQuery.indexOf('?');
    const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
    let name = rawServers.get(path);
    if (name === undefined) {
      name = `raw-${rawServers.size + 1}`;
      rawServers.set(path, name);
      h.gatewayConfig.servers.push({ name, tunnel: h.gatewayConfig.tunnels[0]!.id, url: `${upstream.origin}${path}` });
      h.gateway.reload(structuredClone(h.gatewayConfig));
    }
    return `${h.gateway.url}/mcp/${name}${q < 0 ? '' : pathAndQuery.slice(q)}`;
  };
  return {
    upstream,
    h,
    mcpUrl: h.mcpUrl(SERVER),
    auth,
    viaTunnel,
    direct: (p) => `${upstream.origin}${p}`,
    connect: async ({ search = '', ...o } = {}) =>
      res.add(
        await connectClient(new URL(`${h.mcpUrl(SERVER).href}${search}`), {
          ...o,
          headers: { Authorization: `Bearer ${h.apiKey}`, ...o.headers },
        }),
      ),
  };
}

/** JSON-RPC `initialize` body. */
export function initializeBody(id: number | string = 1, protocolVersion = '2025-11-25'): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw-client', version: '1' } },
  });
}

export const INITIALIZED_BODY = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

export function toolCallBody(id: number | string, name: string, args: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
}

/**
 * A raw MCP session made with `fetch`: initialize + notifications/initialized. Returns the session id
 * and the headers a later request of the session needs.
 */
export async function rawSession(
  url: string | URL,
  extra: Record<string, string> = {},
  protocolVersion = '2025-11-25',
): Promise<{ sessionId: string; headers: Record<string, string> }> {
  const init = await fetch(url, { method: 'POST', headers: { ...POST_HEADERS, ...extra }, body: initializeBody(1, protocolVersion) });
  if (init.status !== 200) throw new Error(`initialize answered ${init.status}: ${await init.text()}`);
  await init.text();
  const sessionId = init.headers.get('mcp-session-id');
  if (!sessionId) throw new Error('initialize answered without Mcp-Session-Id');
  const headers = { ...extra, 'mcp-session-id': sessionId, 'mcp-protocol-version': protocolVersion };
  const done = await fetch(url, { method: 'POST', headers: { ...POST_HEADERS, ...headers }, body: INITIALIZED_BODY });
  await done.text();
  if (done.status !== 202) throw new Error(`notifications/initialized answered ${done.status}`);
  return { sessionId, headers };
}

/** A response read to its end with `fetch`. */
export interface FetchedResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** `fetch`, reading the whole body; header names lower-case. */
export async function fetchAll(url: string | URL, init: RequestInit = {}): Promise<FetchedResponse> {
  const r = await fetch(url, init);
  const body = await r.text();
  return { status: r.status, headers: Object.fromEntries(r.headers.entries()), body };
}

/** Response headers that describe the message, i.e. without the ones each hop sets for itself. */
export function endToEnd(headers: Record<string, string>, also: string[] = []): Record<string, string> {
  const drop = new Set(['date', 'connection', 'keep-alive', ...also]);
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !drop.has(k)));
}

/** A response received with `node:http`, headers exactly as they came (rawHeaders). */
export interface RawResponse {
  status: number;
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Sends one request with `node:http` on a fresh connection (no agent), request target and headers
 * exactly as given — including the hop-by-hop headers `fetch` refuses to send — and reads the whole
 * response.
 */
export function rawRequest(
  url: string,
  opts: { method?: string; headers?: Array<[string, string]>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const flat: string[] = [];
    for (const [k, v] of opts.headers ?? []) flat.push(k, v);
    // With headers given as an array, Node adds neither Host nor framing by itself.
    if (!(opts.headers ?? []).some(([k]) => /^host$/i.test(k))) flat.unshift('Host', new URL(url).host);
    const framed = (opts.headers ?? []).some(([k]) => /^(content-length|transfer-encoding)$/i.test(k));
    if (opts.body !== undefined && !framed) flat.push('Content-Length', String(Buffer.byteLength(opts.body)));
    // The request target goes out exactly as written (passing the URL string would normalize it).
    const { hostname, port } = new URL(url);
    const path = url.replace(/^https?:\/\/[^/?#]+/, '') || '/';
    const init = { hostname, port, path, method: opts.method ?? 'GET', headers: flat, agent: false };
    const req = http.request(init, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.once('error', reject);
    // A string body would make Node write the head in the body's encoding (UTF-8) instead of latin1.
    req.end(typeof opts.body === 'string' ? Buffer.from(opts.body) : opts.body);
  });
}

/** `[name, value]` pairs of a `rawHeaders` array, names lower-cased. */
export function pairs(rawHeaders: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) out.push([rawHeaders[i]!.toLowerCase(), rawHeaders[i + 1]!]);
  return out;
}

/** The text of `result.content[i]`; throws when it is not a text item. */
export function textAt(result: CallToolResult, i: number): string {
  const item = result.content[i];
  if (item?.type !== 'text') throw new Error(`content[${i}] is not text: ${JSON.stringify(item)?.slice(0, 200)}`);
  return item.text;
}
