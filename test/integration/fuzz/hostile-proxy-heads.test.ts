/**
 * Issue 8, defect 8: a tunnel peer (an authenticated proxy) answering with a response head that
 * Node's HTTP layer refuses — a header value with a control byte or a character above 0xFF, an
 * invalid header name, an impossible status — used to reach `writeHead`, whose throw in a stream
 * event handler ended the whole multi-tenant gateway (or, where the throw was caught, left the
 * client waiting forever). Every such head must now get the client a 502 TUNNEL_BAD_RESPONSE_HEAD
 * while the gateway, and another tunnel on it, keep serving.
 *
 * The hostile proxy is a raw WebSocket peer that does the real handshake for its own tunnel and
 * answers every stream with the case's head. Requests go through the plain path (alice) and through
 * the tools/list filter (bob has a tool rule), whose head is written from a stream `end` handler.
 */
import http from 'node:http';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { Flag, FrameType, decodeFrames, encodeFrame, parseControl, type PeerSettings } from '../../../src/protocol';
import { computeProof } from '../../../src/session';

const evilSecret = randomBytes(32).toString('base64url');
const bobKey = randomBytes(24).toString('base64url');
const settings: PeerSettings = { maxFrameSize: 65536, streamWindow: 262144, connectionWindow: 16 << 20, maxStreams: 64, maxHeaderBytes: 65536 };

let h: Harness;
let upstream: http.Server;
let evil: WebSocket;
/** The head (JSON payload) the hostile proxy answers the next streams with. */
let nextHead: unknown = null;

interface Case {
  what: string;
  head: unknown;
}

const VALUE_BYTES = [...Array.from({ length: 9 }, (_, i) => i), ...Array.from({ length: 0x20 - 0x0a }, (_, i) => 0x0a + i), 0x7f];
const cases: Case[] = [
  ...VALUE_BYTES.map((b) => ({ what: `value with byte 0x${b.toString(16).padStart(2, '0')}`, head: { status: 200, headers: [['content-type', 'application/json'], ['x-evil', `a${String.fromCharCode(b)}b`]] } })),
  ...['\u0100', '\u2028', '\uffff', '\u{1f600}', 'caf\u00e9\u0394'].map((c) => ({ what: `value with U+${c.codePointAt(c.length - 1)!.toString(16)}`, head: { status: 200, headers: [['x-evil', `v${c}`]] } })),
  ...['', 'a b', 'x:y', ':status', 'caf\u00e9', 'a\u0000', 'a\r\nb', '(x)', 'x"y'].map((n) => ({ what: `header name ${JSON.stringify(n)}`, head: { status: 200, headers: [[n, 'v']] } })),
  ...[0, 99, 100, 101, 199, 600, 999, 1000, 200.5, -1, '200', null].map((st) => ({ what: `status ${JSON.stringify(st)}`, head: { status: st, headers: [] } })),
  { what: 'duplicate pseudo-headers', head: { status: 200, headers: [[':status', '200'], [':status', '500']] } },
  { what: 'header that is not a pair', head: { status: 200, headers: [['x', 'y', 'z']] } },
];

/** Connects the hostile proxy to tunnel `evil` and answers every stream with {@link nextHead} (plus a body). */
async function startHostileProxy(): Promise<WebSocket> {
  const ws = new WebSocket(`${h.gateway.url.replace(/^http/, 'ws')}/tunnel/evil`, { perMessageDeflate: false });
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('close', (code) => reject(new Error(`hostile proxy closed: ${code}`)));
    ws.on('message', (data: Buffer) => {
      for (const f of decodeFrames(data)) {
        if (f.type === FrameType.CONTROL) {
          const msg = parseControl(f.payload, 1 << 20);
          if (msg.type === 'hello') {
            const proof = computeProof(evilSecret, { version: 1, tunnel: 'evil', nonce: msg.nonce, channelBinding: '' });
            const auth = { type: 'auth', version: 1, tunnel: 'evil', proof, proxy: { id: 'evil', name: 'evil', software: 'evil/0' }, settings };
            ws.send(encodeFrame(FrameType.CONTROL, 0, 0, Buffer.from(JSON.stringify(auth))));
          } else if (msg.type === 'ready') resolve();
        } else if (f.type === FrameType.HEADERS) {
          // Answer at once; a body follows so that the filtered path has something to end on.
          ws.send(Buffer.concat([
            encodeFrame(FrameType.HEADERS, 0, f.streamId, Buffer.from(JSON.stringify(nextHead))),
            encodeFrame(FrameType.DATA, Flag.END_STREAM, f.streamId, Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"tools":[]}}')),
          ]));
        } else if (f.type === FrameType.PING && !(f.flags & Flag.ACK)) {
          ws.send(encodeFrame(FrameType.PING, Flag.ACK, 0, f.payload));
        }
      }
    });
  });
  return ws;
}

function post(server: string, key: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(h.mcpUrl(server), { method: 'POST', agent: false, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`no answer from /mcp/${server} within 5 s`)));
    req.on('error', reject);
    req.end('{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
  });
}

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}'));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  h = await startHarness({
    servers: [{ name: 'notes', url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp` }],
    gateway: (c) => {
      c.tunnels.push({ id: 'evil', secrets: [evilSecret] });
      c.servers.push({ name: 'bad', tunnel: 'evil', url: 'http://127.0.0.1:9/mcp' });
      c.clients.push({ ...c.clients[0]!, name: 'bob', apiKey: bobKey });
      c.policy = {
        rules: [{ name: 'bob-tools', match: { client: 'bob', scope: null }, servers: ['bad'], tools: { allow: ['*'], deny: ['x'] }, rateLimit: null, maxConcurrent: null }],
        inspectLimitBytes: 64 * 1024,
      };
    },
  });
  evil = await startHostileProxy();
});

afterAll(async () => {
  evil?.terminate();
  await h.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

describe('a proxy sending response heads that Node cannot write', () => {
  it.each(cases.map((c) => [c.what, c] as const))('%s: the client gets 502 TUNNEL_BAD_RESPONSE_HEAD (plain and filtered path); the gateway and another tunnel keep serving (regression: writeHead threw and ended the gateway)', async (_what, c) => {
    nextHead = c.head;
    for (const key of [h.apiKey, bobKey]) {
      const r = await post('bad', key);
      expect(r.status).toBe(502);
      expect(r.body).toContain('TUNNEL_BAD_RESPONSE_HEAD');
    }
    expect(evil.readyState).toBe(WebSocket.OPEN); // a stream-level problem: the connection stays
    const ok = await post('notes', h.apiKey);
    expect(ok.status).toBe(200);
  });

  it('logs the offending header name, never its value', () => {
    const lines = h.logs.lines.filter((l) => l['msg'] === 'rejected malformed response head; stream reset');
    expect(lines.length).toBeGreaterThan(0);
    const named = lines.find((l) => l['header'] === 'x-evil');
    expect(named).toBeDefined();
    expect(h.logs.raw.some((l) => l.includes('a\\u0001b'))).toBe(false);
  });
});
