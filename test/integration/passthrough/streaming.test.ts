/**
 * Passthrough items 6, 7, 8 and 10 (streaming): SSE events flushed one by one with every field
 * intact, server-to-client requests answered by a POST that reaches the same upstream session, the
 * standalone GET stream (long-lived, 405, 409 — never retried), and no idle timeout on a silent stream.
 */
import { ListRootsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Multiplexer } from '../../../src/mux';
import { Resources, readSseEvents, waitFor, type SseEvent, type SseItem } from '../../helpers';
import { POST_HEADERS, fetchAll, initializeBody, startTunnelled, type Tunnelled } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

/** SSE items without their arrival time, and `sentAt` blanked in the raw route's JSON data. */
function shape(items: SseItem[]): unknown[] {
  return items.map(({ receivedAt: _r, ...rest }) =>
    rest.type === 'event' ? { ...rest, data: rest.data.replace(/"sentAt":\d+/, '"sentAt":0'), raw: rest.raw.replace(/"sentAt":\d+/, '"sentAt":0') } : rest,
  );
}

/** Counts the PINGs the gateway side of the tunnel connection has sent and had answered. */
function countAnsweredPings(mux: Multiplexer): () => number {
  return () => mux.pingsAnswered;
}

describe('passthrough: streaming', () => {
  it('#6 SSE events arrive one by one with id/event/retry/comments/priming intact and on time', async () => {
    const t = await startTunnelled(res);
    const path = '/raw/sse?events=5&intervalMs=100&comment=1&priming=1&retry=1500';
    const direct = await readSseEvents(await fetch(t.direct(path)), { includeComments: true });
    const viaTunnel = await readSseEvents(await fetch(t.viaTunnel(path), { headers: t.auth }), { includeComments: true });

    // Intact: the same items, field for field and line for line, as a direct client sees.
    expect(shape(viaTunnel)).toEqual(shape(direct));
    expect(viaTunnel[0]).toMatchObject({ type: 'event', id: 'p', retry: 1500, data: '', hasData: true, raw: 'id: p\nretry: 1500\ndata: ' });
    expect(viaTunnel.filter((i) => i.type === 'comment').map((i) => (i as { text: string }).text)).toEqual([0, 1, 2, 3, 4].map((i) => `keepalive ${i}`));
    const events = viaTunnel.filter((i): i is SseEvent => i.type === 'event' && i.id !== 'p');
    expect(events.map((e) => [e.id, e.event])).toEqual([0, 1, 2, 3, 4].map((i) => [String(i), 'message']));

    // On time: each event reached the client before the upstream even wrote the next one.
    const writes = t.upstream.state.rawWrites.filter((w) => w.url === path).slice(-5);
    expect(writes).toHaveLength(5);
    for (let i = 0; i + 1 < events.length; i++) expect(events[i]!.receivedAt).toBeLessThanOrEqual(writes[i + 1]!.at);
  });

  it.each(['GET', 'POST'])('#6 each SSE write is flushed to the client before the upstream writes the next (lockstep, byte for byte, %s)', async (method) => {
    const t = await startTunnelled(res);
    // Small, odd-sized pieces a buffering hop would hold back: a comment line alone, a retry-only
    // block, an empty-data priming event, multi-line data, CRLF line ends, half an event.
    const pieces = [
      ': hello\n',
      'retry: 2500\n\n',
      'id: 1\ndata: \n\n',
      'event: custom\nid: 2\ndata: a\ndata: b\n\n',
      'id: 3\r\ndata: crlf\r\n\r\n',
      'data: {"half":',
      '"done"}\n\n',
      ':\n',
    ];
    const written: string[] = [];
    let release: (() => void) | null = null;
    t.upstream.route('/lockstep', async ({ res: out }) => {
      out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      out.flushHeaders();
      for (const piece of pieces) {
        written.push(piece);
        out.write(piece);
        await new Promise<void>((r) => (release = r));
      }
      out.end();
    });
    const r = await fetch(t.viaTunnel('/lockstep'), { method, headers: t.auth, ...(method === 'POST' ? { body: '{}' } : {}) });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    let received = '';
    let ended = false;
    const decoder = new TextDecoder();
    const reading = (async () => {
      for await (const chunk of r.body!) received += decoder.decode(chunk as Uint8Array, { stream: true });
      ended = true;
    })();
    for (let i = 0; i < pieces.length; i++) {
      // The upstream waits for us: if any hop held the piece back, this would never become true.
      await waitFor(() => written.length === i + 1 && received === written.join(''), {
        timeoutMs: 3000,
        message: () => `piece ${i} (${JSON.stringify(pieces[i])}) to reach the client; received ${JSON.stringify(received)}`,
      });
      release!();
    }
    await reading;
    expect(ended).toBe(true);
    expect(received).toBe(pieces.join(''));
  });

  it.each(['GET', 'POST'])('#6 an upstream that repeats event ids gets every event through, byte for byte (%s)', async (method) => {
    // Ids are the upstream's business: the gateway drops a replayed id only in a response it resumed
    // itself (src/gateway/resume/), never in the upstream's own first response.
    const t = await startTunnelled(res);
    const body = ['id: 1\ndata: a\n\n', 'id: 1\ndata: b\n\n', 'id: 2\ndata: c\n\n', 'id: 1\ndata: d\n\n'].join('').repeat(50);
    t.upstream.route('/repeats', async ({ res: out }) => {
      out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      // In pieces that cut events anywhere (each its own write, a turn apart): a block is held or
      // dropped per piece, so this is what found the cursor dropping the first piece of a repeat.
      for (let at = 0; at < body.length; at += 7) {
        out.write(body.slice(at, at + 7));
        await new Promise<void>((r) => setImmediate(r));
      }
      out.end();
    });
    const r = await fetch(t.viaTunnel('/repeats'), { method, headers: t.auth, ...(method === 'POST' ? { body: '{}' } : {}) });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe(body);
  });

  it('#6 the SDK server’s priming event (id + retry, empty data) reaches the client first', async () => {
    const t = await startTunnelled(res, { upstream: { eventStore: true, retryInterval: 250 } });
    const r = await fetch(t.mcpUrl, { method: 'POST', headers: { ...t.auth, ...POST_HEADERS }, body: initializeBody(1, '2025-11-25') });
    const events = await readSseEvents(r);
    expect(events[0]).toMatchObject({ id: '1', retry: 250, data: '', hasData: true, raw: 'id: 1\nretry: 250\ndata: ' });
    expect(events[1]).toMatchObject({ id: '2', event: 'message' });
    expect(JSON.parse(events[1]!.data)).toMatchObject({ id: 1, result: { protocolVersion: '2025-11-25' } });
  });

  describe('#7 server-to-client requests', () => {
    /** Two proxy replicas, so the answer POST could take the wrong connection if affinity broke. */
    async function twoReplicas(): Promise<Tunnelled> {
      const t = await startTunnelled(res);
      await t.h.addProxy();
      await waitFor(() => t.h.gateway.registry.connections('corp').length === 2);
      return t;
    }

    /** Gateway audit records of the session, once `n` of them have been written. */
    async function sessionRecords(t: Tunnelled, sessionId: string, n: number): Promise<Array<Record<string, unknown>>> {
      return waitFor(() => {
        const recs = t.h.gatewayAudit.lines.filter((l) => l.sessionId === sessionId);
        return recs.length >= n && recs;
      });
    }

    it('#7 sampling: the request travels on the call’s SSE stream, the answer POST reaches the same upstream session', async () => {
      const t = await twoReplicas();
      const prompts: string[] = [];
      const c = await t.connect({
        onSample: (req) => {
          const content = req.params.messages[0]!.content;
          const text = !Array.isArray(content) && content.type === 'text' ? content.text : '?';
          prompts.push(text);
          return { role: 'assistant', model: 'test-model', content: { type: 'text', text: `sampled: ${text}` } };
        },
      });
      const sessionId = c.transport.sessionId!;
      const result = (await c.client.callTool({ name: 'sample', arguments: { prompt: 'hello ✓' } })) as CallToolResult;
      expect(result.content).toEqual([{ type: 'text', text: 'sampled: hello ✓' }]);
      expect(prompts).toEqual(['hello ✓']);

      const call = t.upstream.state.callsOf('sample')[0]!;
      expect(call).toMatchObject({ outcome: 'ok', sessionId });
      // The client's answer: a POST of the same session that the upstream accepted (202) while the call ran.
      const answers = t.upstream.state
        .requestsTo('/mcp', 'POST')
        .filter((r) => r.status === 202 && r.receivedAt >= call.startedAt && r.receivedAt <= call.endedAt!);
      expect(answers.length).toBeGreaterThanOrEqual(1);
      for (const a of answers) expect(a.headers['mcp-session-id']).toBe(sessionId);
      // …and every request of the session, the answer included, used the session's tunnel connection.
      const recs = await sessionRecords(t, sessionId, 3);
      const answerRec = recs.find((r) => r.mcpMethod === null && r.httpMethod === 'POST' && r.status === 202 && r.jsonrpcId !== null);
      expect(answerRec).toBeDefined();
      expect(new Set(recs.map((r) => r.conn)).size).toBe(1);
    });

    it('#7 elicitation: request on the SSE stream, answer POST to the same session, result back', async () => {
      const t = await twoReplicas();
      const c = await t.connect({ onElicit: (req) => ({ action: 'accept', content: { name: `Ada (${req.params.message})` } }) });
      const sessionId = c.transport.sessionId!;
      const result = (await c.client.callTool({ name: 'elicit', arguments: { message: 'who?' } })) as CallToolResult;
      expect(result.content).toEqual([{ type: 'text', text: JSON.stringify({ action: 'accept', content: { name: 'Ada (who?)' } }) }]);
      const call = t.upstream.state.callsOf('elicit')[0]!;
      expect(call).toMatchObject({ outcome: 'ok', sessionId });
      const recs = await sessionRecords(t, sessionId, 3);
      expect(recs.some((r) => r.mcpMethod === null && r.status === 202 && r.jsonrpcId !== null)).toBe(true);
      expect(new Set(recs.map((r) => r.conn)).size).toBe(1);
    });
  });

  it('#7 roots/list: a server request on the standalone GET stream, answered by a POST to the same session', async () => {
    const t = await startTunnelled(res);
    const c = await t.connect({ capabilities: { roots: { listChanged: true } } });
    c.client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: 'file:///work/project', name: 'project ✓' }] }));
    const sessionId = c.transport.sessionId!;
    await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').some((r) => r.status === 200));
    const before = t.upstream.state.requests.length;
    // Unrelated to any client request, so the SDK server sends it on the standalone stream.
    const roots = await t.upstream.sessions.get(sessionId)!.server.server.listRoots();
    expect(roots.roots).toEqual([{ uri: 'file:///work/project', name: 'project ✓' }]);
    // The answer POST is handled before its 202 goes out; wait for the status to be written.
    const answers = await waitFor(() => {
      const later = t.upstream.state.requests.slice(before);
      return later.every((r) => r.status !== undefined) && later;
    });
    expect(answers.map((r) => [r.method, r.status, r.headers['mcp-session-id']])).toEqual([['POST', 202, sessionId]]);
  });

  describe('#8 the standalone GET stream', () => {
    it('#8 opens once, stays open and carries server messages', async () => {
      const t = await startTunnelled(res);
      const c = await t.connect();
      const get = await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').find((r) => r.status === 200));
      expect(get.headers['mcp-session-id']).toBe(c.transport.sessionId);
      for (const n of [1, 2, 3]) {
        await t.upstream.broadcastLog(`standalone ${n}`);
        await waitFor(() => c.logs.some((l) => l.data === `standalone ${n}`));
      }
      expect(t.upstream.state.requestsTo('/mcp', 'GET')).toHaveLength(1);
      expect(get.endedAt).toBeUndefined();
      expect(c.errors).toEqual([]);
    });

    it('#8 a stateless upstream’s 405 reaches the SDK client, which carries on without retrying', async () => {
      const t = await startTunnelled(res, { upstream: { stateless: true } });
      const c = await t.connect();
      await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').find((r) => r.status === 405));
      const r = (await c.client.callTool({ name: 'echo', arguments: { text: 'stateless' } })) as CallToolResult;
      expect(r.content).toEqual([{ type: 'text', text: 'stateless' }]);
      expect(t.upstream.state.requestsTo('/mcp', 'GET')).toHaveLength(1);
      expect(c.errors).toEqual([]);
    });

    it('#8 #12 a second GET on the session gets the upstream’s 409 once, unchanged and not retried; the first stream lives on', async () => {
      const t = await startTunnelled(res);
      const c = await t.connect();
      const sessionId = c.transport.sessionId!;
      await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').some((r) => r.status === 200));
      const headers = { accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' };
      const direct = await fetchAll(t.upstream.url, { headers });
      const viaTunnel = await fetchAll(t.mcpUrl, { headers: { ...t.auth, ...headers } });
      expect(direct.status).toBe(409);
      expect(viaTunnel.status).toBe(409);
      expect(viaTunnel.body).toBe(direct.body);
      expect(viaTunnel.headers['content-type']).toBe(direct.headers['content-type']);
      // The SDK's GET, the direct one and exactly one from the gateway: nothing was retried.
      const gets = t.upstream.state.requestsTo('/mcp', 'GET');
      expect(gets.map((g) => g.status)).toEqual([200, 409, 409]);
      await t.upstream.broadcastLog('after the 409');
      await waitFor(() => c.logs.some((l) => l.data === 'after the 409'));
    });
  });

  it('#10 silent SSE streams (standalone GET and a POST answer) outlive every heartbeat and timeout in the path', async () => {
    // Short enough to exchange many heartbeats in a few seconds, long enough that a busy CI machine's
    // event-loop pauses (a sibling jest worker compiling) never reach the two-interval dead threshold.
    const HEARTBEAT_MS = 250;
    const HEADERS_TIMEOUT_MS = 750;
    const t = await startTunnelled(res, {
      // keepAliveMs 0: the SDK server writes nothing at all while idle.
      upstream: { keepAliveMs: 0 },
      harness: {
        gateway: (g) => (g.heartbeat.intervalMs = HEARTBEAT_MS),
        proxy: (p) => {
          p.heartbeat.intervalMs = HEARTBEAT_MS;
          p.upstream.headersTimeoutMs = HEADERS_TIMEOUT_MS;
        },
      },
    });
    const [conn] = t.h.gateway.registry.connections('corp');
    const answeredPings = countAnsweredPings(conn!.mux);

    let releaseAnswer!: () => void;
    const answerHeld = new Promise<void>((r) => (releaseAnswer = r));
    let asked = false;
    const c = await t.connect({
      onElicit: async () => {
        asked = true;
        await answerHeld; // the call's SSE stream stays silent until we answer
        return { action: 'accept', content: { name: 'late' } };
      },
    });
    const get = await waitFor(() => t.upstream.state.requestsTo('/mcp', 'GET').find((r) => r.status === 200));
    const call = c.client.callTool({ name: 'elicit', arguments: { message: 'take your time' } }, undefined, { timeout: 30_000 });
    await waitFor(() => asked);

    // Both streams are now silent. Let the tunnel exchange at least 12 heartbeats (> 3 s: several
    // times the dead-peer threshold of 2 intervals and 4× the proxy's headers timeout).
    const from = answeredPings();
    await waitFor(() => answeredPings() - from >= 12, { timeoutMs: 20_000, message: '12 answered heartbeat pings' });

    expect(get.endedAt).toBeUndefined();
    expect(t.upstream.state.closedRequests).toEqual([]);
    expect(t.h.gateway.registry.connections('corp').map((x) => x.id)).toEqual([conn!.id]);

    // One more event on each stream still arrives.
    await t.upstream.broadcastLog('still here');
    await waitFor(() => c.logs.some((l) => l.data === 'still here'));
    releaseAnswer();
    const result = (await call) as CallToolResult;
    expect(result.content).toEqual([{ type: 'text', text: JSON.stringify({ action: 'accept', content: { name: 'late' } }) }]);
    expect(c.errors).toEqual([]);
    expect(t.upstream.state.requestsTo('/mcp', 'GET')).toHaveLength(1);
  });
});
