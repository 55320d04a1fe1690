/**
 * Passthrough items 1–3 (requests): one endpoint for POST/GET/DELETE with path and query unchanged,
 * request bodies byte for byte (and a clear 413 instead of truncation), Accept/Content-Type unchanged.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { payloadText, sha256Hex } from '../../fixtures/mcp-upstream';
import { Resources, waitFor } from '../../helpers';
import { POST_HEADERS, endToEnd, fetchAll, initializeBody, rawRequest, rawSession, startTunnelled } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

interface EchoedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
}

describe('passthrough: requests', () => {
  it('#1 POST, GET and DELETE of one session all reach the one endpoint, path and query unchanged', async () => {
    const t = await startTunnelled(res, { upstream: { path: '/internal/v2/mcp' } });
    const query = '?tenant=a%2Fb&tag=x&tag=y&q=caf%C3%A9+%26+more&empty=';
    // The SDK client uses the URL it was given, query included, for every request of the session.
    const withQuery = await t.connect({ search: query });
    const sessionId = withQuery.transport.sessionId!;
    await withQuery.client.callTool({ name: 'echo', arguments: { text: 'q' } });
    await waitFor(() => t.upstream.state.requests.some((r) => r.method === 'GET' && r.headers['mcp-session-id'] === sessionId && r.status === 200));
    await withQuery.transport.terminateSession();

    const all = t.upstream.state.requests;
    expect([...new Set(all.map((r) => r.method))].sort()).toEqual(['DELETE', 'GET', 'POST']);
    // Every request of the session, whatever its method, went to the same path and query, byte for byte.
    for (const r of all) expect(r.url).toBe(`/internal/v2/mcp${query}`);
    expect(t.upstream.state.deletedSessions.has(sessionId)).toBe(true);
  });

  it('#1 the configured path (as written) and an odd client query string reach the upstream byte for byte', async () => {
    const t = await startTunnelled(res);
    // Already in the form a client puts on the wire (fetch would percent-encode a raw `'`, space, …).
    const target = '/raw/echo-headers?a=1&a=2&sp=%20x%20&plus=a+b&utf=%E2%9C%93&raw=:@!$%27()*,;&slash=%2F%2f&dots=./../&end';
    const r = await fetchAll(t.viaTunnel(target), { method: 'POST', headers: t.auth, body: 'x' });
    expect(r.status).toBe(200);
    const echoed = JSON.parse(r.body) as EchoedRequest;
    expect(echoed.url).toBe(target);
    expect(echoed.method).toBe('POST');

    // A configured path a URL parser would normalize, forwarded as written: encoded slash, dot
    // segment, params (the client cannot choose the path: viaTunnel configures it as a server URL).
    const odd = '/raw/echo-headers/a%2Fb/./c;v=1/%7Euser/?x=%3F';
    const raw = await rawRequest(t.viaTunnel(odd), { method: 'POST', headers: [['Authorization', t.auth.authorization!]], body: 'x' });
    expect(raw.status).toBe(200);
    expect((JSON.parse(raw.body.toString()) as EchoedRequest).url).toBe(odd);
  });

  it('#2 a 5 MB tool argument arrives upstream byte for byte (SDK client)', async () => {
    const t = await startTunnelled(res);
    const c = await t.connect();
    const text = payloadText(5 * 1024 * 1024 - 7) + 'é✓\u{1F600}';
    const result = (await c.client.callTool({ name: 'echo', arguments: { text } })) as CallToolResult;
    const call = t.upstream.state.callsOf('echo')[0]!;
    expect(sha256Hex(call.args.text as string)).toBe(sha256Hex(text));
    const first = result.content[0];
    expect(first?.type === 'text' && sha256Hex(first.text)).toBe(sha256Hex(text));
  });

  it('#2 a 5 MB binary body arrives byte for byte, with Content-Length and chunked', async () => {
    const t = await startTunnelled(res);
    const body = randomBytes(5 * 1024 * 1024);
    const sized = await fetchAll(t.viaTunnel('/raw/echo-headers'), {
      method: 'POST',
      headers: { ...t.auth, 'content-type': 'application/octet-stream' },
      body,
    });
    expect(sized.status).toBe(200);
    const a = JSON.parse(sized.body) as EchoedRequest;
    expect(a).toMatchObject({ bodyBytes: body.length, bodySha256: sha256Hex(body) });
    expect(a.headers['content-length']).toBe(String(body.length));

    // No Content-Length: a streamed body in uneven pieces (the gateway must not need the size).
    const pieces = [body.subarray(0, 1), body.subarray(1, 70_001), body.subarray(70_001)];
    const chunked = await fetchAll(t.viaTunnel('/raw/echo-headers'), {
      method: 'POST',
      headers: { ...t.auth, 'content-type': 'application/octet-stream' },
      body: Readable.toWeb(Readable.from(pieces)),
      duplex: 'half',
    });
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.body)).toMatchObject({ bodyBytes: body.length, bodySha256: sha256Hex(body) });
  });

  it('#2 a 5 MB upload sent after Expect: 100-continue (as curl does) arrives byte for byte', async () => {
    const t = await startTunnelled(res);
    const body = randomBytes(5 * 1024 * 1024);
    const answer = await new Promise<{ status: number; text: string; continued: boolean }>((resolve, reject) => {
      let continued = false;
      const req = http.request(t.viaTunnel('/raw/echo-headers'), {
        method: 'POST',
        agent: false,
        headers: { ...t.auth, expect: '100-continue', 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
      });
      req.once('continue', () => {
        continued = true;
        req.end(body);
      });
      req.once('response', (r) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (text += c));
        r.once('end', () => resolve({ status: r.statusCode ?? 0, text, continued }));
      });
      req.once('error', reject);
      req.flushHeaders();
    });
    expect(answer.continued).toBe(true);
    expect(answer.status).toBe(200);
    const echoed = JSON.parse(answer.text) as EchoedRequest;
    expect(echoed).toMatchObject({ bodyBytes: body.length, bodySha256: sha256Hex(body) });
    // The 100-continue handshake belongs to the client's hop.
    expect(echoed.headers.expect).toBeUndefined();
  });

  describe('with a 1 MiB gateway body limit', () => {
    const LIMIT = 1024 * 1024;
    const limited = () => startTunnelled(res, { harness: { gateway: (c) => (c.limits.maxRequestBodyBytes = LIMIT) } });

    it('#2 a body of exactly the limit passes intact', async () => {
      const t = await limited();
      const body = randomBytes(LIMIT);
      const r = await fetchAll(t.viaTunnel('/raw/echo-headers'), { method: 'POST', headers: t.auth, body });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ bodyBytes: LIMIT, bodySha256: sha256Hex(body) });
    });

    it('#2 a declared over-limit body gets 413 with a clear JSON message and never reaches the upstream', async () => {
      const t = await limited();
      const r = await fetchAll(t.viaTunnel('/raw/echo-headers'), { method: 'POST', headers: t.auth, body: randomBytes(LIMIT + 1) });
      expect(r.status).toBe(413);
      expect(r.headers['content-type']).toBe('application/json');
      const err = JSON.parse(r.body) as { error: { message: string; data: { code: string } } };
      expect(err.error.data.code).toBe('TUNNEL_BODY_TOO_LARGE');
      expect(err.error.message).toBe(`request body of ${LIMIT + 1} bytes exceeds the limit of ${LIMIT} bytes`);
      expect(t.upstream.state.requestsTo('/raw/echo-headers')).toHaveLength(0);
    });

    it('#2 a chunked over-limit body gets 413 and the upstream never answers a truncated body', async () => {
      const t = await limited();
      const body = randomBytes(2 * LIMIT);
      const pieces: Buffer[] = [];
      for (let i = 0; i < body.length; i += 64 * 1024) pieces.push(body.subarray(i, i + 64 * 1024));
      const r = await fetchAll(t.viaTunnel('/raw/echo-headers'), {
        method: 'POST',
        headers: t.auth,
        body: Readable.toWeb(Readable.from(pieces)),
        duplex: 'half',
      });
      expect(r.status).toBe(413);
      const err = JSON.parse(r.body) as { error: { message: string; data: { code: string } } };
      expect(err.error.data.code).toBe('TUNNEL_BODY_TOO_LARGE');
      expect(err.error.message).toContain(`exceeds the limit of ${LIMIT} bytes`);
      // The part that was already streamed upstream must not be taken for a whole request.
      await waitFor(() => t.upstream.state.requestsTo('/raw/echo-headers').every((q) => q.endedAt !== undefined));
      for (const q of t.upstream.state.requestsTo('/raw/echo-headers')) expect(q.status).not.toBe(200);
    });

    it('#2 the SDK client gets the 413 and its message for an over-limit tool call', async () => {
      const t = await limited();
      const c = await t.connect();
      const err = await c.client.callTool({ name: 'echo', arguments: { text: 'x'.repeat(LIMIT) } }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StreamableHTTPError);
      expect((err as StreamableHTTPError).code).toBe(413);
      expect((err as Error).message).toContain(`exceeds the limit of ${LIMIT} bytes`);
      expect(t.upstream.state.callsOf('echo')).toHaveLength(0);
    });
  });

  it('#3 Accept and Content-Type reach the upstream unchanged', async () => {
    const t = await startTunnelled(res);
    const accept = 'text/event-stream;q=1.0,  application/json; q=0.5';
    const contentType = 'application/json; charset=utf-8';
    const r = await fetchAll(t.mcpUrl, { method: 'POST', headers: { ...t.auth, accept, 'content-type': contentType }, body: initializeBody() });
    expect(r.status).toBe(200);
    const seen = t.upstream.state.requestsTo('/mcp', 'POST')[0]!;
    expect(seen.headers.accept).toBe(accept);
    expect(seen.headers['content-type']).toBe(contentType);
  });

  it.each([
    ['406 for a POST that does not accept text/event-stream', 'POST', { 'content-type': 'application/json', accept: 'application/json' }],
    ['415 for a POST that is not application/json', 'POST', { 'content-type': 'text/plain', accept: POST_HEADERS.accept }],
    ['406 for a GET that does not accept text/event-stream', 'GET', { accept: 'application/json' }],
  ] as const)('#3 the SDK server’s %s passes through unchanged', async (_name, method, headers) => {
    const t = await startTunnelled(res);
    const { headers: sessionHeaders } = await rawSession(t.upstream.url);
    const init: RequestInit = { method, headers: { ...sessionHeaders, ...headers } };
    if (method === 'POST') init.body = JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' });
    const direct = await fetchAll(t.upstream.url, init);
    const tunnelled = await fetchAll(t.mcpUrl, { ...init, headers: { ...t.auth, ...sessionHeaders, ...headers } });
    expect([406, 415]).toContain(direct.status);
    expect(tunnelled.status).toBe(direct.status);
    expect(tunnelled.body).toBe(direct.body);
    expect(endToEnd(tunnelled.headers)).toEqual(endToEnd(direct.headers));
  });
});
