/**
 * The 2026-07-28 protocol era end to end with the v2 SDK packages: a `@modelcontextprotocol/client`
 * Client over its Streamable HTTP transport → gateway → tunnel → proxy → a `@modelcontextprotocol/server`
 * McpServer upstream. The v2 client speaks the 2025 era unless told otherwise
 * (`versionNegotiation` defaults to 'legacy'); pinned to 2026-07-28 it probes with `server/discover`,
 * attaches the `_meta` protocol-version envelope to every request and derives `MCP-Protocol-Version`,
 * `Mcp-Method` and `Mcp-Name` from the body — the headers the gateway checks.
 */
import { Client, ProtocolError, StreamableHTTPClientTransport, type FetchLike } from '@modelcontextprotocol/client';
import type { PolicyRuleConfig } from '../../../src/config/types';
import { startV2Upstream, type V2Upstream } from '../../fixtures/v2-upstream';
import { Resources } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { rule } from './helpers';

const MODERN = '2026-07-28';

const res = new Resources();
afterEach(() => res.closeAll());

/** What the client's fetch hook saw: the headers it actually sent and the answer. */
interface Exchange {
  method: string;
  sent: Headers;
  body: string;
  status: number;
  /** The response body, for JSON answers only (an SSE body stays with the client). */
  json: unknown;
}

interface Setup {
  h: Harness;
  upstream: V2Upstream;
}

async function setup(rules: PolicyRuleConfig[] | null): Promise<Setup> {
  const upstream = res.add(await startV2Upstream());
  const h = res.add(
    await startHarness({
      servers: [{ name: 'v2', url: upstream.url }],
      gateway: (c) => {
        if (rules) c.policy = { rules, inspectLimitBytes: 64 * 1024 };
      },
    }),
  );
  return { h, upstream };
}

/**
 * A v2 client through the gateway. `rewrite` may change the outgoing headers of each request (a
 * lying client); the SDK derives `Mcp-Method`/`Mcp-Name` itself and refuses per-request overrides
 * of them, so the fetch hook is the only place to lie.
 */
async function connectV2(
  s: Setup,
  opts: { pin?: string; rewrite?: (h: Headers, body: string) => void } = {},
): Promise<{ client: Client; exchanges: Exchange[] }> {
  const exchanges: Exchange[] = [];
  const hook: FetchLike = async (url, init) => {
    const sent = new Headers(init?.headers);
    const body = typeof init?.body === 'string' ? init.body : '';
    opts.rewrite?.(sent, body);
    const r = await fetch(url, { ...init, headers: sent });
    const isJson = (r.headers.get('content-type') ?? '').startsWith('application/json');
    exchanges.push({ method: init?.method ?? 'GET', sent, body, status: r.status, json: isJson ? await r.clone().json() : undefined });
    return r;
  };
  const transport = new StreamableHTTPClientTransport(s.h.mcpUrl('v2'), {
    fetch: hook,
    requestInit: { headers: { Authorization: `Bearer ${s.h.apiKey}` } },
  });
  const client = new Client({ name: 'v2-test-client', version: '1.0.0' }, opts.pin ? { versionNegotiation: { mode: { pin: opts.pin } } } : {});
  res.add(() => client.close());
  await client.connect(transport);
  return { client, exchanges };
}

function textOf(result: unknown): string | undefined {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content;
  return content?.[0]?.text;
}

const denySecret = rule({ name: 'no-secret', tools: { allow: ['*'], deny: ['secret'] } });

describe('policy: v2 SDK client and server (2026-07-28 era)', () => {
  it('by default the v2 client speaks the 2025 era (initialize, no Mcp-Method), and it still works through the tunnel', async () => {
    const s = await setup(null);
    const { client, exchanges } = await connectV2(s);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'old era' } }))).toBe('old era');

    const posts = exchanges.filter((e) => e.method === 'POST');
    expect(posts[0]!.body).toContain('"method":"initialize"');
    const call = posts.find((e) => e.body.includes('"tools/call"'))!;
    expect(call.sent.get('mcp-protocol-version')).toBe('2025-11-25');
    expect(call.sent.get('mcp-method')).toBeNull();
    expect(call.sent.get('mcp-name')).toBeNull();
  });

  it('pinned to 2026-07-28: discover, list and call pass through gateway and tunnel with matching mirrored headers', async () => {
    const s = await setup(null);
    const { client, exchanges } = await connectV2(s, { pin: MODERN });
    expect(client.getServerVersion()).toMatchObject({ name: 'v2-upstream' });

    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name).sort()).toEqual(['add', 'echo', 'secret']);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'hello' } }))).toBe('hello');
    expect(textOf(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');

    // The client really spoke the new era: no initialize, and the body-mirrored headers on every request.
    const posts = exchanges.filter((e) => e.method === 'POST');
    expect(posts.some((e) => e.body.includes('"method":"initialize"'))).toBe(false);
    expect(posts[0]!.body).toContain('"method":"server/discover"');
    const call = posts.find((e) => e.body.includes('"tools/call"') && e.body.includes('"echo"'))!;
    expect(call.sent.get('mcp-protocol-version')).toBe(MODERN);
    expect(call.sent.get('mcp-method')).toBe('tools/call');
    expect(call.sent.get('mcp-name')).toBe('echo');
    // …and they arrived upstream unchanged, through the tunnel.
    const seen = s.upstream.requests.find((r) => r.toolName === 'echo')!;
    expect(seen.headers).toMatchObject({ 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'echo' });
    expect(s.upstream.toolCalls).toEqual(['echo', 'add']);
  });

  it('a deny rule: the denied call errors without reaching the upstream, tools/list hides it, allowed tools work', async () => {
    const s = await setup([denySecret]);
    const { client } = await connectV2(s, { pin: MODERN });

    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name).sort()).toEqual(['add', 'echo']);
    expect(s.upstream.requests.some((r) => r.rpcMethod === 'tools/list')).toBe(true); // filtered, not answered locally

    const denied = await client.callTool({ name: 'secret', arguments: {} }).then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(denied).toBeInstanceOf(ProtocolError);
    expect((denied as ProtocolError).message).toMatch(/tool "secret" is not allowed .*no-secret: deny "secret"/);

    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'still fine' } }))).toBe('still fine');
    expect(s.upstream.toolCalls).toEqual(['echo']);
    expect(s.upstream.requests.filter((r) => r.rpcMethod === 'tools/call').map((r) => r.toolName)).toEqual(['echo']);
  });

  it('a client lying in Mcp-Name (body: tools/call secret, header: echo) gets 400 / -32020 and the upstream never sees it', async () => {
    const s = await setup([denySecret]);
    const { client, exchanges } = await connectV2(s, {
      pin: MODERN,
      rewrite: (h, body) => {
        if (h.get('mcp-method') === 'tools/call' && body.includes('"secret"')) h.set('mcp-name', 'echo');
      },
    });
    const before = s.upstream.requests.length;

    const err = await client.callTool({ name: 'secret', arguments: {} }).then(
      (r) => r,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(-32020);

    // On -32020 the v2 client evicts its tools/list cache, lists again and retries the call once:
    // both attempts carry the lie, both are answered 400 by the gateway.
    const lies = exchanges.filter((e) => e.body.includes('"tools/call"') && e.body.includes('"secret"'));
    expect(lies).toHaveLength(2);
    for (const lie of lies) {
      expect(lie.sent.get('mcp-protocol-version')).toBe(MODERN);
      expect(lie.sent.get('mcp-method')).toBe('tools/call');
      expect(lie.sent.get('mcp-name')).toBe('echo');
      expect(lie.status).toBe(400);
      const id = (JSON.parse(lie.body) as { id: unknown }).id;
      expect(lie.json).toMatchObject({
        jsonrpc: '2.0',
        id,
        error: { code: -32020, message: expect.stringMatching(/Mcp-Name header value 'echo' does not match body value 'secret'/) as unknown },
      });
    }

    // The upstream saw only the client's honest tools/list refresh, never the call.
    expect(s.upstream.requests.slice(before).map((r) => r.rpcMethod)).toEqual(['tools/list']);
    expect(s.upstream.requests.some((r) => r.rpcMethod === 'tools/call')).toBe(false);
    expect(s.upstream.toolCalls).toEqual([]);

    // An honest request on the same client still works.
    expect(textOf(await client.callTool({ name: 'echo', arguments: { text: 'honest' } }))).toBe('honest');
    expect(s.upstream.toolCalls).toEqual(['echo']);
  });
});
