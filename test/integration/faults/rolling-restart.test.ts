/**
 * Fault (planned): a rolling restart of two proxy replicas under continuous load. Each replica in
 * turn gets SIGTERM (drain: GOAWAY to the gateway, in-flight requests finish, exit 0), and is started
 * again; the next one is restarted only once the new process is connected. No request may fail.
 *
 * Replicas are CLI child processes; the gateway runs in this process so the test can see which
 * replica's connections it holds.
 */
import * as fs from 'node:fs';
import { CLI_PATH, stopAllProcesses, waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { Load, callTool, stopAllLoads, spawnProxy, startToolUpstream, summarize, type ToolUpstream } from './helpers';

/** Each call spends this long upstream, so SIGTERM always finds requests in flight. */
const CALL_MS = 40;
const ROUNDS = 2;

describe('fault (planned): rolling restart of two proxy replicas under load', () => {
  let upstream: ToolUpstream | null = null;
  let h: Harness | null = null;

  beforeAll(() => {
    if (!fs.existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  });
  afterEach(async () => {
    // A failed assertion skips `load.stop()`; its calls must not outlive the test.
    const loads = stopAllLoads();
    await stopAllProcesses();
    await loads;
    await h?.close();
    h = null;
    await upstream?.close();
    upstream = null;
  });

  it('restarts A then B (twice) with zero failed requests', async () => {
    upstream = await startToolUpstream();
    const harness = (h = await startHarness({ servers: [{ name: 'tools', url: upstream.url }], startProxy: false }));
    const gw = harness.gateway;
    const hostPort = new URL(gw.url).host;
    const creds = { secret: harness.secret, apiKey: harness.apiKey };
    const connsOf = (name: string) => gw.registry.connections('corp').filter((c) => c.proxyName === name);
    const replicas = new Map([
      ['replica-a', spawnProxy(hostPort, creds, { name: 'replica-a' })],
      ['replica-b', spawnProxy(hostPort, creds, { name: 'replica-b' })],
    ]);
    await waitFor(() => connsOf('replica-a').length > 0 && connsOf('replica-b').length > 0, { timeoutMs: 10_000, message: 'both replicas connected' });

    const load = new Load(() => callTool(gw.url, harness.apiKey, { delayMs: CALL_MS, boundMs: 15_000 }), 6);
    await waitFor(() => load.outcomes.length >= 20, { timeoutMs: 10_000, message: 'load running' });

    const steps: string[] = [];
    const stopped: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const name of ['replica-a', 'replica-b']) {
        const old = replicas.get(name)!;
        const oldIds = new Set(connsOf(name).map((c) => c.id));
        const inFlight = connsOf(name).reduce((n, c) => n + c.mux.activeStreams, 0);
        const t0 = Date.now();
        expect(await old.stop({ signal: 'SIGTERM', timeoutMs: 15_000 })).toEqual({ code: 0, signal: null });
        const tExit = Date.now();
        stopped.push(...old.jsonLines().filter((e) => /drain|closed|stopp|GOAWAY/i.test(String(e.msg))).map((e) => `${name}: ${String(e.msg)} ${JSON.stringify({ inFlight: e.inFlight, code: e.code, reason: e.reason })}`));
        const next = spawnProxy(hostPort, creds, { name });
        replicas.set(name, next);
        await waitFor(() => connsOf(name).some((c) => !oldIds.has(c.id)), { timeoutMs: 10_000, message: `${name} back` });
        const tBack = Date.now();
        steps.push(`round ${round} ${name}: ${inFlight} in flight at SIGTERM, exit 0 after ${tExit - t0} ms, back ${tBack - tExit} ms later`);
      }
    }
    await waitFor(() => load.outcomes.length >= 50, { timeoutMs: 5000 });
    const outcomes = await load.stop();
    console.log([...steps, `load: ${outcomes.length} calls (${summarize(outcomes)})`].join('\n'));

    const failed = outcomes.filter((o) => o.status !== 200);
    // On failure, what the stopped replicas said about their drain explains where the requests went.
    if (failed.length > 0) console.log(`drain logs of the stopped replicas:\n${stopped.join('\n')}`);
    expect(failed.map((o) => `${o.status} ${o.code ?? o.error ?? ''}`)).toEqual([]);
  }, 60_000);
});
