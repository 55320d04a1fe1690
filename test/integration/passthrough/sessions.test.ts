/**
 * Passthrough items 11, 13 and 14 (sessions): `Mcp-Session-Id` to the client and back upstream on
 * every request (pinned to one tunnel connection with several proxy replicas), DELETE ends the
 * session, and the MCP request headers reach the upstream unchanged.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Resources, waitFor, type ConnectedClient } from '../../helpers';
import { POST_HEADERS, fetchAll, pairs, rawRequest, rawSession, startTunnelled, toolCallBody } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

interface EchoedRequest {
  headers: Record<string, string>;
  rawHeaders: string[];
}

describe('passthrough: sessions', () => {
  it('#11 the session id from initialize reaches the SDK client and goes upstream on every later request', async () => {
    const t = await startTunnelled(res);
    const c = await t.connect();
    const sessionId = c.transport.sessionId!;
    expect(t.upstream.state.activeSessions.has(sessionId)).toBe(true);
    await c.client.listTools();
    await c.client.callTool({ name: 'echo', arguments: { text: 'one' } });
    await c.client.notification({ method: 'notifications/cancelled', params: { requestId: 999, reason: 'nothing' } });
    await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').some((r) => r.status === 200));
    await c.transport.terminateSession();

    const [init, ...later] = t.upstream.state.requestsTo('/mcp');
    expect(init!.headers['mcp-session-id']).toBeUndefined();
    expect(later.map((r) => r.method).sort()).toEqual(['DELETE', 'GET', 'POST', 'POST', 'POST', 'POST']);
    for (const r of later) expect(r.headers['mcp-session-id']).toBe(sessionId);
    expect(later.every((r) => r.status !== 400 && r.status !== 404)).toBe(true);
  });

  it('#11 any visible-ASCII session id passes both ways unchanged, whatever the header-name case', async () => {
    const t = await startTunnelled(res);
    const odd = "A-z_0.9~!#$%&'*+^`|<>@[]{}()=?/\\\"";
    const issued = await fetchAll(
      t.viaTunnel(`/raw/status/200?header=${encodeURIComponent(`Mcp-Session-Id:${odd}`)}`),
      { method: 'POST', headers: t.auth, body: '{}' },
    );
    expect(issued.headers['mcp-session-id']).toBe(odd);
    for (const name of ['mcp-session-id', 'MCP-SESSION-ID', 'Mcp-Session-Id']) {
      const r = await rawRequest(t.viaTunnel('/raw/echo-headers'), {
        method: 'POST',
        headers: [
          ['Authorization', t.auth.authorization!],
          [name, odd],
        ],
        body: '{}',
      });
      expect(r.status).toBe(200);
      const echoed = JSON.parse(r.body.toString('utf8')) as EchoedRequest;
      expect(pairs(echoed.rawHeaders).filter(([n]) => n === 'mcp-session-id')).toEqual([['mcp-session-id', odd]]);
    }
  });

  it('#11 with two proxy replicas, every request of each of many sessions stays on its tunnel connection and upstream session', async () => {
    const t = await startTunnelled(res);
    await t.h.addProxy();
    await waitFor(() => t.h.gateway.registry.connections('corp').length === 2);
    const SESSIONS = 12;
    const clients: ConnectedClient[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      // One at a time: each session's standalone GET keeps a stream open on its connection, so the
      // next initialize goes to the other, less loaded connection and the sessions alternate.
      clients.push(await t.connect());
      await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').filter((r) => r.status === 200).length === i + 1);
    }
    await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; k < 5; k++) {
          const r = (await c.client.callTool({ name: 'add', arguments: { a: i, b: k } })) as CallToolResult;
          expect(r.structuredContent).toEqual({ sum: i + k });
        }
        await c.client.listTools();
        await c.transport.terminateSession();
        // As a real client does: the upstream ended the session's GET stream, and the SDK schedules a
        // reconnect of it (after ~1 s) that would go out without a session id once terminated.
        await c.client.close();
      }),
    );

    expect(t.upstream.state.requests.filter((r) => r.status === 404 || r.status === 400)).toEqual([]);
    for (const c of clients) expect(c.errors).toEqual([]);
    expect(t.upstream.state.deletedSessions.size).toBe(SESSIONS);
    // initialize + initialized + GET + 5 calls + list + DELETE = 10 gateway records per session.
    const records = await waitFor(() => {
      const recs = t.h.gatewayAudit.lines.filter((l) => l.side === 'gateway' && l.httpMethod !== 'GET');
      return recs.length >= SESSIONS * 9 && recs;
    });
    const connOf = new Map<string, Set<unknown>>();
    for (const r of records) {
      const sid = r.sessionId as string | null;
      if (!sid) continue;
      if (!connOf.has(sid)) connOf.set(sid, new Set());
      connOf.get(sid)!.add(r.conn);
    }
    expect(connOf.size).toBe(SESSIONS);
    for (const conns of connOf.values()) expect(conns.size).toBe(1);
    // Both replicas carried sessions: affinity was tested, not implied by a single connection.
    const used = new Set([...connOf.values()].map((s) => [...s][0]));
    expect(used.size).toBe(2);
  });

  it('#13 DELETE with the session id ends the session upstream; the id is then unknown (404)', async () => {
    const t = await startTunnelled(res);
    const c = await t.connect();
    const sessionId = c.transport.sessionId!;
    const get = await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').find((r) => r.status === 200));
    await c.transport.terminateSession();
    expect(t.upstream.state.deletedSessions.has(sessionId)).toBe(true);
    expect(t.upstream.state.activeSessions.has(sessionId)).toBe(false);
    const del = t.upstream.state.requestsTo('/mcp', 'DELETE');
    expect(del).toHaveLength(1);
    expect(del[0]!.headers['mcp-session-id']).toBe(sessionId);
    expect(del[0]!.status).toBe(200);
    // The session's standalone stream ends with it.
    await waitFor(() => get.endedAt !== undefined);

    const after = await fetchAll(t.mcpUrl, {
      method: 'POST',
      headers: { ...t.auth, ...POST_HEADERS, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: toolCallBody(9, 'echo', { text: 'too late' }),
    });
    expect(after.status).toBe(404);
    expect(t.upstream.state.callsOf('echo')).toHaveLength(0);
  });

  it('#13 a raw DELETE gets the same answer through the tunnel as directly', async () => {
    const t = await startTunnelled(res);
    const direct = await rawSession(t.upstream.url);
    const viaTunnel = await rawSession(t.mcpUrl, t.auth);
    const d = await fetchAll(t.upstream.url, { method: 'DELETE', headers: direct.headers });
    const v = await fetchAll(t.mcpUrl, { method: 'DELETE', headers: viaTunnel.headers });
    expect(v.status).toBe(d.status);
    expect(v.body).toBe(d.body);
    expect(t.upstream.state.deletedSessions).toEqual(new Set([direct.sessionId, viaTunnel.sessionId]));
  });

  it('#14 MCP-Protocol-Version, Mcp-Method, Mcp-Name and Mcp-Param-* reach the upstream unchanged and in order', async () => {
    const t = await startTunnelled(res);
    const mcpHeaders: Array<[string, string]> = [
      ['MCP-Protocol-Version', '2025-11-25'],
      ['Mcp-Method', 'tools/call'],
      ['Mcp-Name', 'get_weather'],
      ['Mcp-Param-Region', 'eu-west-1'],
      ['Mcp-Param-Tag', 'first'],
      ['Mcp-Param-Tag', 'second'],
      ['Mcp-Param-Query', ' spaced ; "quoted" , =?base64?SGVsbG8=?= '],
      // obs-text: byte 0xE9 on the wire (header strings are latin1 on every hop).
      ['Mcp-Param-Latin1', 'café'],
    ];
    const r = await rawRequest(t.viaTunnel('/raw/echo-headers'), {
      method: 'POST',
      headers: [['Authorization', t.auth.authorization!], ['Content-Type', 'application/json'], ...mcpHeaders],
      body: '{}',
    });
    expect(r.status).toBe(200);
    const echoed = JSON.parse(r.body.toString('utf8')) as EchoedRequest;
    const seen = pairs(echoed.rawHeaders).filter(([n]) => n.startsWith('mcp-'));
    // Node trims the optional whitespace around a field value on both hops; the rest is byte for byte.
    expect(seen).toEqual(mcpHeaders.map(([n, v]) => [n.toLowerCase(), v.trim()]));
  });

  it('#14 the SDK client’s MCP-Protocol-Version reaches the upstream on every request after initialize', async () => {
    const t = await startTunnelled(res);
    const c = await t.connect();
    await c.client.callTool({ name: 'echo', arguments: { text: 'v' } });
    await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').some((r) => r.status === 200));
    await c.transport.terminateSession();
    const version = c.transport.protocolVersion;
    expect(version).toBe('2025-11-25');
    const [, ...later] = t.upstream.state.requestsTo('/mcp');
    expect(later.length).toBeGreaterThanOrEqual(4);
    for (const q of later) expect(q.headers['mcp-protocol-version']).toBe(version);
  });
});
