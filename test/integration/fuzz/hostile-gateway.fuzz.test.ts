/**
 * Bad input against a REAL proxy: a fake gateway (`ws.WebSocketServer` on loopback) answers each
 * proxy connection with malformed, truncated, oversized or out-of-order `hello`/`ready` messages, or
 * with hostile frames and CONTROL messages after a valid handshake. Every case must end in a clean
 * close by the proxy with an expected close code and a logged reason, or (input that happens to be
 * valid) in the proxy carrying on (answering `auth`, or PING after `ready`); never an uncaught
 * exception, never a hang. Alongside, a real gateway + proxy pair serves requests after every batch.
 *
 * fast-check with a fixed seed and a bounded number of runs; the number of cases is printed.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import WebSocket, { WebSocketServer } from 'ws';
import { LogCapture, startHarness, type Harness } from '../../helpers/tunnel-harness';
import { startProxy, type RunningProxy } from '../../../src/proxy';
import { CloseCode, Flag, FrameType, decodeFrames, encodeFrame, parseControl, type PeerSettings } from '../../../src/protocol';

const SEED = 0x7e57_0006;
const RUNS = 200;
const MAX_HEADER = 1024;
const CASE_TIMEOUT_MS = 3000;
const P = CloseCode.PROTOCOL_ERROR;
const BIG = CloseCode.TOO_LARGE;

let h: Harness;
let upstream: http.Server;
let fake: WebSocketServer;
let fakeUrl: string;
let cases = 0;
const logs = new LogCapture('info');
/** The current case's handler for the next proxy connection. */
let onConnection: ((ws: WebSocket) => void) | null = null;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}'));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  h = await startHarness({ servers: [{ name: 'notes', url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp` }] });
  fake = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(fake, 'listening');
  fakeUrl = `ws://127.0.0.1:${(fake.address() as AddressInfo).port}/tunnel/corp`;
  fake.on('connection', (ws) => {
    ws.on('error', () => undefined);
    const handler = onConnection;
    onConnection = null;
    if (handler) handler(ws);
    else ws.terminate(); // a reconnect after the case ended
  });
});

afterAll(async () => {
  for (const c of fake.clients) c.terminate();
  await new Promise<void>((r) => fake.close(() => r()));
  await h.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
  console.log(`hostile-gateway fuzz: ${cases} cases against a real proxy (seed ${SEED})`);
});

const settings: PeerSettings = { maxFrameSize: 65536, streamWindow: 262144, connectionWindow: 16 << 20, maxStreams: 64, maxHeaderBytes: 65536 };
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const control = (v: unknown): Buffer => encodeFrame(FrameType.CONTROL, 0, 0, Buffer.isBuffer(v) ? v : json(v));
const HELLO = { type: 'hello', versions: [1], nonce: 'bm9uY2Vub25jZW5vbmNlbm9uY2Vub25jZW5vbmNlMTI', binding: 'none' };
const READY = { type: 'ready', version: 1, connection: '00000000-0000-4000-8000-000000000000', settings };

type Msg = Buffer | string;
interface Case {
  kind: string;
  /** Sent on connection, instead of a valid hello. */
  hello: Msg[];
  /** Sent after the proxy's `auth` (null: the case ends when `auth` arrives). */
  ready: Msg[] | null;
  /** Sent after a valid ready. */
  after: Msg[];
  expect: number[];
}

const frameArb = fc.record({ type: fc.integer({ min: 0, max: 255 }), flags: fc.integer({ min: 0, max: 255 }), stream: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 }), fc.nat()), payload: fc.uint8Array({ maxLength: 64 }) });
const rawFrame = (f: { type: number; flags: number; stream: number; payload: Uint8Array }): Buffer => {
  const header = Buffer.alloc(10);
  header.writeUInt8(f.type, 0);
  header.writeUInt8(f.flags, 1);
  header.writeUInt32BE(f.stream >>> 0, 2);
  header.writeUInt32BE(f.payload.length, 6);
  return Buffer.concat([header, Buffer.from(f.payload)]);
};
const helloCase = (kind: string, hello: Msg[], expect: number[]): Case => ({ kind, hello, ready: null, after: [], expect });
const readyCase = (kind: string, ready: Msg[], expect: number[]): Case => ({ kind, hello: [control(HELLO)], ready, after: [], expect });

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => helloCase('random bytes as hello', [Buffer.from(b)], [P, BIG])),
  fc.string({ maxLength: 100 }).map((s) => helloCase('text as hello', [s], [P])),
  fc.nat().map((cut) => {
    const m = control(HELLO);
    return helloCase('truncated hello', [m.subarray(0, cut % m.length)], [P]);
  }),
  fc
    .record({
      type: fc.constantFrom('hello', 'ready', 'auth', 'x'),
      versions: fc.oneof(fc.constant([1]), fc.array(fc.integer({ min: -1, max: 5 }), { maxLength: 40 }), fc.string(), fc.constant(null)),
      nonce: fc.oneof(fc.constant(HELLO.nonce), fc.string({ maxLength: 300 }), fc.integer()),
      binding: fc.oneof(fc.constant('none'), fc.constant('tls-exporter'), fc.string({ maxLength: 80 }), fc.constant(undefined)),
      extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    })
    .map((f) => helloCase('fuzzed hello fields', [control({ ...f.extra, type: f.type, versions: f.versions, nonce: f.nonce, binding: f.binding })], [P, BIG, CloseCode.UNSUPPORTED_VERSION])),
  fc.integer({ min: MAX_HEADER + 65, max: 20_000 }).map((n) => helloCase('oversized hello', [control({ ...HELLO, pad: 'x'.repeat(n) })], [BIG])),
  fc.array(frameArb, { minLength: 1, maxLength: 3 }).map((frames) => helloCase('frames before hello', [Buffer.concat([...frames.map(rawFrame), control(HELLO)])], [P, BIG])),
  fc.constantFrom<Msg[]>([control(READY)], [control(HELLO), control(HELLO)], [Buffer.concat([control(HELLO), control(READY)])]).map((m) => helloCase('out-of-order handshake', m, [P])),
  fc
    .record({
      type: fc.constantFrom('ready', 'hello', 'x'),
      version: fc.oneof(fc.constant(1), fc.integer({ min: -1, max: 70000 }), fc.string()),
      connection: fc.oneof(fc.constant(READY.connection), fc.string({ maxLength: 200 }), fc.constant(null)),
      settings: fc.oneof(fc.constant(settings), fc.dictionary(fc.string({ maxLength: 16 }), fc.jsonValue({ maxDepth: 1 })), fc.constant('x')),
    })
    .map((r) => ({ ...readyCase('fuzzed ready fields', [control(r)], [P, BIG]), after: [] })),
  fc.oneof(
    fc.nat().map((cut) => {
      const m = control(READY);
      return readyCase('truncated ready', [m.subarray(0, cut % m.length)], [P]);
    }),
    fc.integer({ min: MAX_HEADER + 65, max: 20_000 }).map((n) => readyCase('oversized ready', [control({ ...READY, pad: 'x'.repeat(n) })], [BIG])),
    fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b) => readyCase('junk CONTROL instead of ready', [control(Buffer.from(b))], [P])),
  ),
  fc
    .array(
      fc.oneof(
        frameArb.map(rawFrame),
        fc.jsonValue({ maxDepth: 2 }).map((v) => control(v)),
        fc.record({ type: fc.constantFrom('reauth_challenge', 'reauth_result', 'reauth', 'drain', 'unknown-type'), nonce: fc.string({ maxLength: 50 }), ok: fc.boolean() }).map((v) => control(v)),
        fc.integer({ min: MAX_HEADER + 1, max: 4000 }).map((n) => control({ type: 'x', pad: 'y'.repeat(n) })),
        fc.constant(encodeFrame(FrameType.HEADERS, 0, 2, json({ rid: 'r', server: 's', url: 'http://127.0.0.1:1/', method: 'GET', headers: [] }))),
        fc.constant(encodeFrame(FrameType.HEADERS, 0, 1, Buffer.from('{not json'))),
        fc.constant(encodeFrame(FrameType.DATA, 0, 7, Buffer.from('late'))),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((after): Case => ({ kind: 'hostile input after ready', hello: [control(HELLO)], ready: [control(READY)], after, expect: [P, BIG] })),
);

type Outcome = { kind: 'closed'; code: number; reason: string } | { kind: 'auth' } | { kind: 'alive' };

/** Starts a fresh proxy against the fake gateway and plays the case; never hangs. */
async function runCase(c: Case): Promise<Outcome> {
  let proxy: RunningProxy | null = null;
  const outcome = new Promise<Outcome>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`case "${c.kind}" hung for ${CASE_TIMEOUT_MS} ms`)), CASE_TIMEOUT_MS);
    const done = (o: Outcome): void => {
      clearTimeout(deadline);
      resolve(o);
    };
    onConnection = (ws) => {
      const probe = Buffer.from('fuzzprob');
      ws.on('close', (code, reason) => done({ kind: 'closed', code, reason: reason.toString('utf8') }));
      ws.on('message', (data: Buffer, isBinary) => {
        if (!isBinary) return;
        let frames;
        try {
          frames = decodeFrames(data);
        } catch {
          return;
        }
        for (const f of frames) {
          if (f.type === FrameType.CONTROL && f.streamId === 0) {
            let msg;
            try {
              msg = parseControl(f.payload, 1 << 20);
            } catch {
              continue;
            }
            if (msg.type !== 'auth') continue;
            if (c.ready === null) return done({ kind: 'auth' });
            for (const m of c.ready) ws.send(m, { binary: typeof m !== 'string' });
            for (const m of c.after) ws.send(m, { binary: true });
            ws.send(encodeFrame(FrameType.PING, 0, 0, probe));
          } else if (f.type === FrameType.PING && f.flags & Flag.ACK && f.payload.equals(probe)) {
            done({ kind: 'alive' });
          }
        }
      });
      for (const m of c.hello) ws.send(m, { binary: typeof m !== 'string' });
    };
  });
  const cfg = structuredClone(h.proxyConfig);
  cfg.url = fakeUrl;
  cfg.name = 'fuzz-proxy';
  cfg.limits.maxHeaderBytes = MAX_HEADER;
  cfg.reconnect = { baseMs: 60_000, capMs: 60_000, stableMs: 10_000 }; // one connection per case
  cfg.upstream.allow = ['127.0.0.1/32']; // whatever a hostile gateway asks for stays on loopback
  proxy = startProxy(cfg, { logger: logs.logger, auditLogger: logs.logger, random: () => 0.5 });
  const before = reasonLogs();
  try {
    const o = await outcome;
    // The proxy logs a failure when its own socket reports the close; wait for that before stopping it.
    const deadline = Date.now() + 2000;
    while (o.kind === 'closed' && reasonLogs() <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    return o;
  } finally {
    await proxy.close(0);
  }
}

const reasonLogs = (): number =>
  logs.lines.filter(
    (l) =>
      (l.msg === 'tunnel connection lost or failed; reconnecting' || l.msg === 'tunnel connection refused permanently; retrying slowly' || l.msg === 'closing tunnel connection: protocol error') &&
      typeof l.reason === 'string' &&
      l.reason !== '',
  ).length;

async function expectStillServing(): Promise<void> {
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(h.mcpUrl('notes'), { method: 'POST', agent: false, headers: { authorization: `Bearer ${h.apiKey}`, 'content-type': 'application/json' } }, (r) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end('{"jsonrpc":"2.0","id":1,"method":"tools/list"}');
  });
  expect(status).toBe(200);
}

describe('fuzz: a hostile gateway against a real proxy', () => {
  it('every malformed, truncated, oversized or out-of-order message ends in a clean, logged close by the proxy', async () => {
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        cases++;
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
        const before = reasonLogs();
        const o = await runCase(c);
        if (o.kind === 'closed') {
          expect(c.expect).toContain(o.code);
          expect(o.reason.length).toBeGreaterThan(0);
          // The proxy logged why (the reconnect loop logs code and reason of every failure).
          expect(reasonLogs()).toBeGreaterThan(before);
        } else if (o.kind === 'auth') {
          expect(c.ready).toBeNull(); // a hello that happened to be valid
        } else {
          expect(c.ready).not.toBeNull(); // a session that tolerated what it was sent
        }
        if (cases % 50 === 0) await expectStillServing();
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect(kinds.size).toBeGreaterThanOrEqual(9);
    await expectStillServing();
  });
});
