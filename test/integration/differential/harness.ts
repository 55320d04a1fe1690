/**
 * The differential harness: a real gateway + proxy in this process in front of the recording
 * upstream (test/helpers/recording-upstream.ts), two client identities with live sessions on both
 * transports, and `run(variant)`, which sends one variant raw (node:http: no client library
 * "fixes" it) and returns what the gateway answered and recorded and what the upstream executed.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { Resources, SseParser, waitFor } from '../../helpers';
import { startRecordingUpstream, type ExecutedMessage, type RecordingUpstream } from '../../helpers/recording-upstream';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { IDENTITIES, LIMITS, render, type RenderedRequest, type SessionIds, type Variant, type Who } from './variants';

/** What one variant did. */
export interface Observation {
  variant: Variant;
  request: RenderedRequest;
  /** HTTP status the client got; 0 when the exchange failed before a status. */
  status: number;
  /** The gateway audit record of this request; null when none was written in time. */
  record: Record<string, unknown> | null;
  /** JSON-RPC messages the upstream SDK dispatched while this request ran. */
  executed: ExecutedMessage[];
  /** Request targets that reached the upstream while it ran. */
  arrived: string[];
}

export interface Differential {
  up: RecordingUpstream;
  h: Harness;
  keys: Record<Who, string>;
  /** Session id → the identity whose request created it. */
  owners: Map<string, Who>;
  run(v: Variant): Promise<Observation>;
}

/** The policy under test: alice may call only `echo` on notes and legacy (and never `evil`); bob has no tool rule. */
export const POLICY_RULE = {
  name: 'alice-tools',
  match: { client: 'alice', scope: null },
  servers: ['notes', 'legacy'],
  tools: { allow: ['echo'], deny: ['evil'] },
  rateLimit: null,
  maxConcurrent: null,
};
/** Servers each identity is granted (`admin` is configured but granted to nobody). */
export const GRANTED: Record<Who, readonly string[]> = { alice: ['notes', 'legacy'], bob: ['notes', 'legacy'] };

interface Sent {
  status: number;
  body: Buffer;
}

/** Sends a rendered request on a fresh connection; an SSE answer to a GET is cut after its head. */
function send(base: URL, r: RenderedRequest): Promise<Sent> {
  return new Promise((resolve) => {
    const flat: string[] = ['Host', base.host];
    for (const [k, v] of r.headers) flat.push(k, v);
    flat.push('Content-Length', String(r.body.length));
    const req = http.request({ hostname: base.hostname, port: base.port, path: r.target, method: r.method, headers: flat, agent: false });
    const timer = setTimeout(() => req.destroy(new Error('no complete answer in 10 s')), 10_000);
    const done = (s: Sent): void => {
      clearTimeout(timer);
      resolve(s);
    };
    req.once('response', (res) => {
      const sse = (res.headers['content-type'] ?? '').startsWith('text/event-stream');
      if (sse && r.method === 'GET') {
        // A standalone stream stays open; what matters is what it opened upstream.
        res.destroy();
        return done({ status: res.statusCode ?? 0, body: Buffer.alloc(0) });
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.once('error', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.once('error', () => done({ status: 0, body: Buffer.alloc(0) }));
    req.end(r.body);
  });
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Opens a legacy HTTP+SSE session through the gateway; the GET stream stays open (drained) until `res` closes. */
async function legacySession(res: Resources, base: string, key: string): Promise<string> {
  const stream = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = http.get(`${base}/mcp/legacy`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, agent: false }, resolve);
    req.once('error', reject);
    res.defer(() => req.destroy());
  });
  if (stream.statusCode !== 200) throw new Error(`legacy GET answered ${stream.statusCode}`);
  const parser = new SseParser();
  const endpoint = await new Promise<string>((resolve, reject) => {
    stream.on('data', (c: Buffer) => {
      for (const item of parser.push(c.toString('utf8'))) if (item.type === 'event' && item.event === 'endpoint') resolve(item.data);
    });
    stream.once('end', () => reject(new Error('legacy stream ended before its endpoint event')));
  });
  const sid = new URL(endpoint, base).searchParams.get('sessionId');
  if (!sid) throw new Error(`endpoint event without sessionId: ${endpoint}`);
  const post = async (body: unknown): Promise<void> => {
    const r = await fetch(new URL(endpoint, base), { method: 'POST', headers: { ...JSON_HEADERS, authorization: `Bearer ${key}` }, body: JSON.stringify(body) });
    await r.text();
    if (r.status !== 202) throw new Error(`legacy POST answered ${r.status}`);
  };
  await post({ jsonrpc: '2.0', id: 'setup', method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'differential', version: '1' } } });
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  return sid;
}

async function notesSession(base: string, key: string): Promise<string> {
  const auth = { authorization: `Bearer ${key}` };
  const init = await fetch(`${base}/mcp/notes`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, ...auth },
    body: JSON.stringify({ jsonrpc: '2.0', id: 'setup', method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'differential', version: '1' } } }),
  });
  await init.text();
  const sid = init.headers.get('mcp-session-id');
  if (init.status !== 200 || !sid) throw new Error(`notes initialize answered ${init.status}`);
  const done = await fetch(`${base}/mcp/notes`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, ...auth, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-03-26' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await done.text();
  return sid;
}

/** Starts upstream, gateway and proxy, and one session per identity on each transport. */
export async function startDifferential(res: Resources): Promise<Differential> {
  const up = res.add(await startRecordingUpstream());
  const bobKey = randomBytes(24).toString('base64url');
  const h = res.add(
    await startHarness({
      servers: [
        { name: 'notes', url: up.urls.notes },
        { name: 'legacy', url: up.urls.legacy },
        { name: 'admin', url: up.urls.admin },
      ],
      gateway: (c) => {
        c.clients = [
          { name: 'alice', apiKey: c.clients[0]!.apiKey!, servers: [...GRANTED.alice] },
          { name: 'bob', apiKey: bobKey, servers: [...GRANTED.bob] },
        ];
        c.policy = { rules: [POLICY_RULE], inspectLimitBytes: LIMITS.policy };
        c.limits.maxRequestBodyBytes = LIMITS.body;
      },
    }),
  );
  const keys: Record<Who, string> = { alice: h.apiKey, bob: bobKey };
  const owners = new Map<string, Who>();
  const base = h.gateway.url;
  const sessions: SessionIds = { notes: { alice: '', bob: '' }, legacy: { alice: '', bob: '' } };

  /** (Re)creates any session a previous variant ended (a DELETE, a transport error). */
  const ensureSessions = async (): Promise<void> => {
    for (const who of IDENTITIES) {
      if (!up.sessions.has(sessions.notes[who])) {
        sessions.notes[who] = await notesSession(base, keys[who]);
        owners.set(sessions.notes[who], who);
      }
      if (!up.sessions.has(sessions.legacy[who])) {
        sessions.legacy[who] = await legacySession(res, base, keys[who]);
        owners.set(sessions.legacy[who], who);
      }
    }
  };
  const records = (): Array<Record<string, unknown>> => h.gatewayAudit.lines.filter((l) => l.side === 'gateway');

  let n = 0;
  const run = async (variant: Variant): Promise<Observation> => {
    await ensureSessions();
    const request = render(variant, n++, keys, sessions);
    const execBefore = up.executed.length;
    const arrivedBefore = up.arrived.length;
    const recBefore = records().length;
    const sent = await send(new URL(base), request);
    // One gateway record per request, written when the exchange ends (the setup GET streams stay open).
    const record = await waitFor(() => records().slice(recBefore).find((r) => r.httpMethod === request.method), { timeoutMs: 5000 }).catch(() => null);
    return {
      variant,
      request,
      status: sent.status,
      record,
      executed: up.executed.slice(execBefore),
      arrived: up.arrived.slice(arrivedBefore).map((a) => `${a.method} ${a.url}`),
    };
  };
  await ensureSessions();
  return { up, h, keys, owners, run };
}
