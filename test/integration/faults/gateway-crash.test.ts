/**
 * Fault: the gateway process dies (kill -9) and is started again on the same port.
 *
 * Gateway and proxy are CLI child processes; the proxy reaches the gateway through a relay so the
 * test controls when the restarted gateway becomes reachable for it: while the relay refuses, the
 * tunnel has no proxy and client requests must get a prompt 503 (`limits.connectWaitMs`), and once
 * it forwards again the proxy must be back within its backoff bound (`reconnect.capMs`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_PATH, stopAllProcesses } from '../../helpers';
import { startRelay, type Relay } from '../../helpers/relay';
import { Load, callTool, stopAllLoads, newCredentials, spawnGateway, spawnProxy, startToolUpstream, summarize, writeGatewayConfig, type ToolUpstream } from './helpers';

const CONNECT_WAIT_MS = 300;
const BASE_MS = 100;
const CAP_MS = 800;
/** A request may take connectWaitMs plus this much; beyond it, it counts as hanging. */
const SETTLE_SLACK_MS = 1500;
/** Dial + WebSocket upgrade + handshake on a loaded 2-core machine. */
const HANDSHAKE_SLACK_MS = 1500;

describe('fault: gateway crash (kill -9) and restart on the same port', () => {
  let dir: string;
  let upstream: ToolUpstream | null = null;
  let relay: Relay | null = null;

  beforeAll(() => {
    if (!fs.existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-fault-gw-'));
  });
  afterEach(async () => {
    // A failed assertion skips `load.stop()`; its calls must not outlive the test.
    const loads = stopAllLoads();
    await stopAllProcesses();
    await loads;
    await relay?.close();
    relay = null;
    await upstream?.close();
    upstream = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('requests during the outage get 503 without hanging, and the proxy is back within the backoff cap', async () => {
    upstream = await startToolUpstream();
    const creds = newCredentials();
    const g1 = await spawnGateway(writeGatewayConfig(dir, creds, upstream.url, { connectWaitMs: CONNECT_WAIT_MS }));
    relay = await startRelay(g1.port);
    const proxy = spawnProxy(relay.hostPort, creds, { name: 'crash-proxy', baseMs: BASE_MS, capMs: CAP_MS });
    await g1.proc.waitForJson((e) => e.msg === 'proxy connected and authenticated', { timeoutMs: 10_000 });
    expect((await callTool(g1.url, creds.apiKey)).status).toBe(200);

    // Continuous calls for the whole episode: none may hang, whatever state the gateway is in.
    const load = new Load(() => callTool(g1.url, creds.apiKey, { boundMs: CONNECT_WAIT_MS + SETTLE_SLACK_MS }), 2);

    relay.refuse(true);
    const tKill = Date.now();
    const proxyLinesBefore = proxy.lines.length;
    expect(await g1.proc.stop({ signal: 'SIGKILL' })).toEqual({ code: null, signal: 'SIGKILL' });
    await proxy.waitForJson((e) => e.msg === 'tunnel connection lost or failed; reconnecting', { from: proxyLinesBefore, timeoutMs: 5000 });
    const tNoticed = Date.now();

    const g2 = await spawnGateway(writeGatewayConfig(dir, creds, upstream.url, { connectWaitMs: CONNECT_WAIT_MS, port: g1.port }));
    expect(g2.port).toBe(g1.port);
    const tRestarted = Date.now();

    // The gateway is up but the proxy cannot reach it yet: a prompt 503 with Retry-After.
    const during = await Promise.all([0, 1, 2].map(() => callTool(g2.url, creds.apiKey, { boundMs: CONNECT_WAIT_MS + SETTLE_SLACK_MS })));
    for (const o of during) {
      expect({ status: o.status, code: o.code, retryAfter: o.retryAfter }).toEqual({ status: 503, code: 'TUNNEL_NOT_CONNECTED', retryAfter: '5' });
      expect(o.ms).toBeGreaterThanOrEqual(CONNECT_WAIT_MS - 5);
      expect(o.ms).toBeLessThan(CONNECT_WAIT_MS + SETTLE_SLACK_MS);
    }

    // The path opens: the proxy's next attempt comes within one backoff delay (≤ capMs).
    const g2Lines = g2.proc.lines.length;
    relay.refuse(false);
    const tOpen = Date.now();
    await g2.proc.waitForJson((e) => e.msg === 'proxy connected and authenticated', { from: g2Lines, timeoutMs: CAP_MS + HANDSHAKE_SLACK_MS + 1000 });
    const tBack = Date.now();
    expect(tBack - tOpen).toBeLessThan(CAP_MS + HANDSHAKE_SLACK_MS);

    const after = await callTool(g2.url, creds.apiKey);
    expect(after.status).toBe(200);

    const outcomes = await load.stop();
    const hung = outcomes.filter((o) => o.timedOut);
    expect(hung).toEqual([]);
    // Every call ended as: answered (200), refused while no gateway process listened (status 0,
    // connection refused/reset), or 503 while the gateway had no proxy.
    const unexpected = outcomes.filter((o) => !(o.status === 200 || o.status === 0 || (o.status === 503 && o.code === 'TUNNEL_NOT_CONNECTED')));
    expect(unexpected).toEqual([]);
    const longest = Math.max(...outcomes.map((o) => o.ms));
    expect(longest).toBeLessThan(CONNECT_WAIT_MS + SETTLE_SLACK_MS);
    const refused = outcomes.filter((o) => o.status === 0).length;
    const unavailable = outcomes.filter((o) => o.status === 503).length;
    expect(unavailable).toBeGreaterThan(0);

    console.log(
      [
        `gateway crash: proxy noticed ${tNoticed - tKill} ms after kill; gateway restarted ${tRestarted - tKill} ms after kill`,
        `proxy back ${tBack - tOpen} ms after the path opened (bound: capMs ${CAP_MS} + ${HANDSHAKE_SLACK_MS} ms)`,
        `outage calls: ${during.map((o) => `${o.status} in ${o.ms} ms`).join(', ')}`,
        `load: ${outcomes.length} calls (${summarize(outcomes)}); refused while down ${refused}, 503 ${unavailable}; longest ${longest} ms`,
      ].join('\n'),
    );
  }, 30_000);
});
