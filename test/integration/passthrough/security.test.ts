/**
 * Passthrough items 15 and 16 (security): the client's gateway credential never reaches the internal
 * server, hop-by-hop headers are handled as an HTTP proxy must (both directions), end-to-end headers
 * are kept; `Origin` passes unchanged and a browser client gets CORS with `Mcp-Session-Id` exposed.
 */
import { Resources, waitFor } from '../../helpers';
import type { GatewayConfig } from '../../../src/config/types';
import { POST_HEADERS, initializeBody, pairs, rawRequest, startTunnelled } from './helpers';

const res = new Resources();
/** The browser origins these tests send, allowed as an operator would (allowedOrigins; docs/policy.md). */
const BROWSER_APPS = { harness: { gateway: (c: GatewayConfig) => (c.allowedOrigins = ['http://localhost:5173', 'https://app.example', 'http://evil.example']) } };
afterEach(() => res.closeAll());

interface EchoedRequest {
  headers: Record<string, string>;
  rawHeaders: string[];
  bodyBytes: number;
}

describe('passthrough: security', () => {
  it('#15 the gateway credential never reaches the upstream, on any request of an SDK session', async () => {
    const t = await startTunnelled(res);
    const c = await t.connect();
    await c.client.callTool({ name: 'echo', arguments: { text: 'secret-free' } });
    await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').some((r) => r.status === 200));
    await c.transport.terminateSession();
    const seen = t.upstream.state.requests;
    expect(seen.map((r) => r.method).sort()).toEqual(['DELETE', 'GET', 'POST', 'POST', 'POST']);
    for (const r of seen) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.rawHeaders.join('\n')).not.toContain(t.h.apiKey);
    }
  });

  it('#15 hop-by-hop request headers are stripped, end-to-end ones kept byte for byte and in order', async () => {
    const t = await startTunnelled(res);
    const endToEnd: Array<[string, string]> = [
      ['Content-Type', 'application/json'],
      ['Accept', 'application/json, text/event-stream'],
      ['X-Custom', 'one'],
      ['Cookie', 'a=1; b=2'],
      ['Cache-Control', 'no-cache'],
      ['User-Agent', 'passthrough-test/1.0'],
      ['X-Custom', 'two'],
      ['Last-Event-ID', '42'],
      ['Via', '1.1 corp-proxy'],
      ['Forwarded', 'for=192.0.2.60;proto=https'],
    ];
    const hopByHop: Array<[string, string]> = [
      ['Connection', 'x-foo, X-Bar'],
      ['X-Foo', 'named in Connection'],
      ['X-Bar', 'also named in Connection'],
      ['Keep-Alive', 'timeout=5, max=100'],
      ['TE', 'trailers'],
      ['Upgrade', 'h2c'],
      ['Proxy-Authorization', 'Basic cHJveHk6c2VjcmV0'],
      ['Proxy-Connection', 'keep-alive'],
    ];
    const r = await rawRequest(t.viaTunnel('/raw/echo-headers'), {
      method: 'POST',
      headers: [['Authorization', t.auth.authorization!], ...hopByHop.slice(0, 4), ...endToEnd, ...hopByHop.slice(4)],
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    expect(r.status).toBe(200);
    const echoed = JSON.parse(r.body.toString('utf8')) as EchoedRequest;
    const got = pairs(echoed.rawHeaders);
    const names = new Set(got.map(([n]) => n));
    for (const name of [...hopByHop.map(([n]) => n), 'Authorization']) {
      if (name !== 'Connection') expect(names).not.toContain(name.toLowerCase());
    }
    // The upstream hop has its own Connection header (undici's), not the client's.
    expect(echoed.headers.connection).toBe('keep-alive');
    // undici adds its own host, connection and content-length; everything else is what the client sent.
    const sent = got.filter(([n]) => !['host', 'connection', 'content-length'].includes(n));
    expect(sent).toEqual(endToEnd.map(([n, v]) => [n.toLowerCase(), v]));
    expect(echoed.headers.host).toBe(new URL(t.upstream.url).host);
    expect(echoed.bodyBytes).toBe(40);
  });

  it('#15 hop-by-hop response headers are stripped, end-to-end ones kept', async () => {
    const t = await startTunnelled(res);
    const headers = [
      'Connection:x-hop',
      'X-Hop:dropped',
      'Keep-Alive:timeout=99',
      'Proxy-Authenticate:Basic realm=corp',
      'X-End-To-End:kept',
      'Cache-Control:no-store',
      'WWW-Authenticate:Bearer resource_metadata="https://internal.example/meta"',
    ];
    const path = `/raw/status/200?${headers.map((h) => `header=${encodeURIComponent(h)}`).join('&')}`;
    const direct = await rawRequest(t.direct(path));
    expect(direct.headers['x-hop']).toBe('dropped'); // the upstream really sends them
    const r = await rawRequest(t.viaTunnel(path), { headers: [['Authorization', t.auth.authorization!]] });
    expect(r.status).toBe(200);
    expect(r.headers['x-hop']).toBeUndefined();
    expect(r.headers['proxy-authenticate']).toBeUndefined();
    // The gateway speaks for its own connection: its keep-alive, not the upstream's.
    expect(r.headers['keep-alive']).not.toBe('timeout=99');
    expect(r.headers.connection).not.toContain('x-hop');
    expect(r.headers['x-end-to-end']).toBe('kept');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers['www-authenticate']).toBe('Bearer resource_metadata="https://internal.example/meta"');
    expect(r.body.toString()).toBe(direct.body.toString());
  });

  it('#16 Origin reaches the upstream unchanged; the answer carries CORS that exposes Mcp-Session-Id', async () => {
    const t = await startTunnelled(res, BROWSER_APPS);
    const origin = 'http://localhost:5173';
    const r = await rawRequest(t.mcpUrl.href, {
      method: 'POST',
      headers: [['Origin', origin], ['Authorization', t.auth.authorization!], ['Content-Type', POST_HEADERS['content-type']], ['Accept', POST_HEADERS.accept]],
      body: initializeBody(),
    });
    expect(r.status).toBe(200);
    const init = t.upstream.state.requestsTo('/mcp', 'POST')[0]!;
    expect(pairs(init.rawHeaders).filter(([n]) => n === 'origin')).toEqual([['origin', origin]]);
    expect(r.headers['mcp-session-id']).toBe([...t.upstream.state.activeSessions][0]);
    expect(r.headers['access-control-allow-origin']).toBe(origin);
    const exposed = (r.headers['access-control-expose-headers'] as string).split(',').map((s) => s.trim().toLowerCase());
    expect(exposed).toContain('mcp-session-id');
    expect(exposed).toContain('mcp-protocol-version');
  });

  it('#16 an upstream’s own CORS headers (e.g. from an internal reverse proxy) do not hide Mcp-Session-Id from a browser', async () => {
    const t = await startTunnelled(res, BROWSER_APPS);
    const upstreamHeaders = ['Access-Control-Expose-Headers:X-Internal-Trace', 'Vary:Accept-Encoding', 'Mcp-Session-Id:abc-123'];
    const path = `/raw/status/200?${upstreamHeaders.map((h) => `header=${encodeURIComponent(h)}`).join('&')}`;
    const origin = 'http://localhost:5173';
    const r = await rawRequest(t.viaTunnel(path), { headers: [['Authorization', t.auth.authorization!], ['Origin', origin]] });
    expect(r.status).toBe(200);
    expect(r.headers['mcp-session-id']).toBe('abc-123');
    const exposed = (r.headers['access-control-expose-headers'] as string).split(',').map((s) => s.trim().toLowerCase());
    expect(exposed).toEqual(expect.arrayContaining(['x-internal-trace', 'mcp-session-id', 'mcp-protocol-version']));
    const vary = (r.headers.vary as string).split(',').map((s) => s.trim().toLowerCase());
    expect(vary).toEqual(expect.arrayContaining(['accept-encoding', 'origin']));
    expect(r.headers['access-control-allow-origin']).toBe(origin);
    // Without Origin (not a browser) the upstream's headers are left exactly as they were.
    const plain = await rawRequest(t.viaTunnel(path), { headers: [['Authorization', t.auth.authorization!]] });
    expect(plain.headers['access-control-expose-headers']).toBe('X-Internal-Trace');
    expect(plain.headers.vary).toBe('Accept-Encoding');
  });

  it('#16 a CORS preflight is answered by the gateway for everything a browser MCP client sends', async () => {
    const t = await startTunnelled(res, BROWSER_APPS);
    const origin = 'https://app.example';
    const requested = 'authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id';
    for (const method of ['POST', 'GET', 'DELETE']) {
      const r = await rawRequest(t.mcpUrl.href, {
        method: 'OPTIONS',
        headers: [
          ['Origin', origin],
          ['Access-Control-Request-Method', method],
          ['Access-Control-Request-Headers', requested],
        ],
      });
      expect(r.status).toBe(204);
      expect(r.headers['access-control-allow-origin']).toBe(origin);
      expect((r.headers['access-control-allow-methods'] as string).split(',').map((s) => s.trim())).toContain(method);
      const allowed = (r.headers['access-control-allow-headers'] as string).split(',').map((s) => s.trim().toLowerCase());
      for (const h of requested.split(', ')) expect(allowed).toContain(h);
      expect(r.headers['access-control-expose-headers']).toContain('mcp-session-id');
    }
    // A preflight is the gateway's business: nothing reached the upstream.
    expect(t.upstream.state.requests).toEqual([]);
  });

  it('#16 an upstream that rejects an Origin the gateway allows (its own DNS-rebinding protection) is answered unchanged', async () => {
    const t = await startTunnelled(res, BROWSER_APPS);
    // A raw route standing in for a server with an Origin allow-list.
    t.upstream.route('/guarded', ({ req, res: out }) => {
      const ok = req.headers.origin === 'http://localhost:5173';
      out.writeHead(ok ? 200 : 403, { 'content-type': 'application/json' });
      out.end(JSON.stringify({ origin: req.headers.origin ?? null }));
    });
    const allowed = await rawRequest(t.viaTunnel('/guarded'), { headers: [['Authorization', t.auth.authorization!], ['Origin', 'http://localhost:5173']] });
    const denied = await rawRequest(t.viaTunnel('/guarded'), { headers: [['Authorization', t.auth.authorization!], ['Origin', 'http://evil.example']] });
    expect(allowed.status).toBe(200);
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body.toString())).toEqual({ origin: 'http://evil.example' });
  });
});
