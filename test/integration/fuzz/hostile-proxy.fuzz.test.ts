/**
 * Bad input against a REAL gateway: raw `ws` clients on loopback throw malformed, truncated,
 * oversized and out-of-order handshake frames, and hostile frames and CONTROL messages after a valid
 * handshake, at the real TunnelEndpoint. Every case must end in a clean close with an expected close
 * code and a logged reason (or, for input that happens to be acceptable after the handshake, leave
 * the connection alive and answering PING); never an uncaught exception, never a hang. A real proxy
 * stays connected throughout and a real request through it succeeds after every batch of cases.
 *
 * fast-check with a fixed seed and a bounded number of runs; the number of cases is printed.
 */
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { CloseCode, Flag, FrameType, decodeFrames, encodeFrame, parseControl, type PeerSettings } from '../../../src/protocol';
import { computeProof } from '../../../src/session';

const SEED = 0x7e57_0003;
const RUNS = 300;
const MAX_HEADER = 1024;
const HANDSHAKE_MS = 400;
const CASE_TIMEOUT_MS = 3000;

let h: Harness;
let upstream: http.Server;
let cases = 0;

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
      c.limits.maxHeaderBytes = MAX_HEADER;
      c.limits.handshakeTimeoutMs = HANDSHAKE_MS;
      c.limits.maxUnauthenticatedPerAddress = 10_000;
      c.limits.maxUnauthenticated = 10_000;
      c.limits.connectAttemptsPerMinute = 100_000;
    },
  });
});

afterAll(async () => {
  await h.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
  console.log(`hostile-proxy fuzz: ${cases} cases against the real gateway (seed ${SEED})`);
});

const proxySettings: PeerSettings = { maxFrameSize: 65536, streamWindow: 262144, connectionWindow: 16 << 20, maxStreams: 64, maxHeaderBytes: 65536 };
const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
const control = (v: unknown): Buffer => encodeFrame(FrameType.CONTROL, 0, 0, Buffer.isBuffer(v) ? v : json(v));
const authObject = (nonce: string, over: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'auth',
  version: 1,
  tunnel: 'corp',
  proof: computeProof(h.secret, { version: 1, tunnel: 'corp', nonce, channelBinding: '' }),
  proxy: { id: 'fuzz', name: 'fuzz', software: 'fuzz/0' },
  settings: proxySettings,
  ...over,
});

type Msg = Buffer | string;
interface Case {
  kind: string;
  /** Messages to send once `hello` arrived (given its nonce). */
  script: (nonce: string) => Msg[];
  /** Close codes acceptable for this case; `alive` also accepts a connection still answering PING. */
  expect: number[];
  alive?: boolean;
}

const P = CloseCode.PROTOCOL_ERROR;
const anyFrameType = fc.integer({ min: 0, max: 255 });
const frameArb = fc.record({ type: anyFrameType, flags: fc.integer({ min: 0, max: 255 }), stream: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 0xffffffff })), payload: fc.uint8Array({ maxLength: 64 }) });
const rawFrame = (f: { type: number; flags: number; stream: number; payload: Uint8Array }): Buffer => {
  const header = Buffer.alloc(10);
  header.writeUInt8(f.type, 0);
  header.writeUInt8(f.flags, 1);
  header.writeUInt32BE(f.stream >>> 0, 2);
  header.writeUInt32BE(f.payload.length, 6);
  return Buffer.concat([header, Buffer.from(f.payload)]);
};

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 300 }).map((b): Case => ({ kind: 'random bytes', script: () => [Buffer.from(b)], expect: [P, CloseCode.TOO_LARGE] })),
  fc.string({ maxLength: 100 }).map((s): Case => ({ kind: 'text message', script: () => [s], expect: [P] })),
  fc.nat().map((cut): Case => ({
    kind: 'truncated auth',
    script: (n) => {
      const m = control(authObject(n));
      return [m.subarray(0, cut % m.length)];
    },
    expect: [P],
  })),
  fc
    .record({
      type: fc.constantFrom('auth', 'hello', 'ready', 'reauth', 'x', 1),
      version: fc.oneof(fc.constant(1), fc.integer({ min: -2, max: 70000 }), fc.string(), fc.constant(null)),
      tunnel: fc.oneof(fc.constant('corp'), fc.string({ maxLength: 80 }), fc.integer()),
      proof: fc.oneof(fc.constant('good'), fc.string({ maxLength: 300 }), fc.constant(null)),
      settings: fc.oneof(fc.constant(proxySettings), fc.dictionary(fc.string({ maxLength: 16 }), fc.jsonValue({ maxDepth: 1 })), fc.constant(7)),
      extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    })
    .map((f): Case => ({
      kind: 'fuzzed auth fields',
      script: (n) => [control({ ...f.extra, ...authObject(n, { type: f.type, version: f.version, tunnel: f.tunnel, settings: f.settings }), ...(f.proof === 'good' ? {} : { proof: f.proof }) })],
      // A fully valid auth (good proof, version 1, corp, good settings) is accepted: alive.
      expect: [P, CloseCode.AUTH_FAILED, CloseCode.UNSUPPORTED_VERSION, CloseCode.TOO_LARGE],
      alive: true,
    })),
  fc.integer({ min: MAX_HEADER + 1, max: 20_000 }).map((size): Case => ({
    kind: 'oversized control',
    script: (n) => [control({ ...authObject(n), pad: 'x'.repeat(size) })],
    expect: [CloseCode.TOO_LARGE],
  })),
  fc.array(frameArb, { minLength: 1, maxLength: 3 }).map((frames): Case => ({
    kind: 'out-of-order frames before auth',
    script: (n) => [Buffer.concat([...frames.map(rawFrame), control(authObject(n))])],
    expect: [P, CloseCode.TOO_LARGE],
  })),
  fc.constantFrom('hello', 'ready').map((type): Case => ({
    kind: `${type} from the proxy`,
    script: (n) => [control(type === 'hello' ? { type, versions: [1], nonce: n } : { type, version: 1, connection: 'x', settings: proxySettings })],
    expect: [P],
  })),
  fc.uint8Array({ minLength: 1, maxLength: 80 }).map((b): Case => ({ kind: 'CONTROL with junk payload', script: () => [control(Buffer.from(b))], expect: [P] })),
  fc.integer({ min: 1, max: 1 << 30 }).map((extra): Case => ({
    kind: 'frame length past the message',
    script: (n) => {
      const m = Buffer.from(control(authObject(n)));
      m.writeUInt32BE(m.length - 10 + extra, 6);
      return [m];
    },
    expect: [P],
  })),
  fc
    .array(
      fc.oneof(
        frameArb.map(rawFrame),
        fc.jsonValue({ maxDepth: 2 }).map((v) => control(v)),
        fc.record({ type: fc.constantFrom('reauth', 'reauth_request', 'reauth_challenge', 'reauth_proof', 'drain', 'unknown-type'), nonce: fc.string({ maxLength: 50 }), proof: fc.string({ maxLength: 50 }) }).map((v) => control(v)),
        fc.integer({ min: MAX_HEADER + 1, max: 4000 }).map((n) => control({ type: 'x', pad: 'y'.repeat(n) })),
        fc.constant(encodeFrame(FrameType.HEADERS, Flag.END_STREAM, 2, json({ status: 200, headers: [] }))),
      ),
      { minLength: 1, maxLength: 4 },
    )
    .map((after): Case => ({
      kind: 'hostile input after a valid handshake',
      script: (n) => [control(authObject(n)), ...after],
      expect: [P, CloseCode.TOO_LARGE],
      alive: true,
    })),
);

interface Outcome {
  code: number | null;
  reason: string;
  alive: boolean;
}

/** Runs one case on a fresh connection; resolves with how it ended (never hangs: bounded by CASE_TIMEOUT_MS). */
function runCase(c: Case): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${h.gateway.url.replace(/^http/, 'ws')}/tunnel/corp`, { perMessageDeflate: false });
    let authed = false;
    let probe: Buffer | null = null;
    const deadline = setTimeout(() => {
      ws.terminate();
      reject(new Error(`case "${c.kind}" hung: no close and no PING answer within ${CASE_TIMEOUT_MS} ms`));
    }, CASE_TIMEOUT_MS);
    const done = (o: Outcome): void => {
      clearTimeout(deadline);
      resolve(o);
    };
    ws.on('error', () => undefined);
    ws.on('close', (code, reason) => done({ code, reason: reason.toString('utf8'), alive: false }));
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
            continue; // post-handshake CONTROL types this test does not know
          }
          if (msg.type === 'hello') {
            const script = c.script(msg.nonce);
            for (const m of script) ws.send(m, { binary: typeof m !== 'string' });
            if (script.length === 0) continue; // silence: no probe either
            // Ordered transport: once the PING's ACK is back, the gateway has handled everything before it.
            probe = Buffer.from('fuzzprob');
            const p = probe;
            setImmediate(() => ws.readyState === WebSocket.OPEN && ws.send(encodeFrame(FrameType.PING, 0, 0, p)));
          } else if (msg.type === 'ready') authed = true;
        } else if (f.type === FrameType.PING && f.flags & Flag.ACK && probe && f.payload.equals(probe) && authed) {
          clearTimeout(deadline);
          ws.removeAllListeners('close');
          ws.once('close', () => undefined);
          ws.close(1000);
          resolve({ code: null, reason: '', alive: true });
        }
      }
    });
  });
}

const failureLogs = (): number =>
  h.logs.lines.filter(
    (l) =>
      (l.msg === 'tunnel handshake failed' || l.msg === 'tunnel connection closed during the handshake' || l.msg === 'closing tunnel connection: protocol error' || l.msg === 'proxy connection closed') &&
      typeof l.reason === 'string',
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
  expect(h.gateway.registry.connections('corp').filter((c) => c.proxyName === 'test-proxy')).toHaveLength(1);
}

describe('fuzz: hostile proxies against the real gateway', () => {
  it('every malformed, truncated, oversized or out-of-order input ends in a clean, logged close; the gateway keeps serving', async () => {
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        cases++;
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
        const logsBefore = failureLogs();
        const o = await runCase(c);
        if (o.alive) {
          expect(c.alive).toBe(true);
        } else {
          expect(c.expect).toContain(o.code);
          // A logged reason on the gateway for this close.
          const deadline = Date.now() + 2000;
          while (failureLogs() <= logsBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
          expect(failureLogs()).toBeGreaterThan(logsBefore);
        }
        if (cases % 40 === 0) await expectStillServing();
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    expect(kinds.size).toBeGreaterThanOrEqual(9);
    await expectStillServing();
  });

  it('silence and a half-sent frame end with 4408 after the handshake timeout, logged', async () => {
    const started = Date.now();
    const [silent, partial] = await Promise.all([
      runCase({ kind: 'silence', script: () => [], expect: [CloseCode.HANDSHAKE_TIMEOUT] }),
      runCase({ kind: 'header only', script: () => [Buffer.from([FrameType.CONTROL, 0, 0, 0])], expect: [P] }),
    ]);
    cases += 2;
    expect(silent.code).toBe(CloseCode.HANDSHAKE_TIMEOUT);
    expect(partial.code).toBe(P);
    expect(Date.now() - started).toBeGreaterThanOrEqual(HANDSHAKE_MS - 50);
    expect(h.logs.find((l) => l.msg === 'tunnel handshake failed' && l.code === 'TUNNEL_HANDSHAKE_TIMEOUT')).toBeDefined();
    await expectStillServing();
  });
});
