/**
 * Fault: one of two proxy replicas of a tunnel dies (kill -9) under continuous load.
 *
 * The replicas are CLI child processes; the gateway runs in this process so the test can see which
 * connections it holds. Requests in flight on the dead replica must fail fast with 502
 * `TUNNEL_CONNECTION_LOST`; every request started after the gateway dropped the replica's
 * connections must succeed on the other replica.
 */
import * as fs from 'node:fs';
import { CLI_PATH, stopAllProcesses, waitFor } from '../../helpers';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { Load, callTool, stopAllLoads, spawnProxy, startToolUpstream, summarize, type ToolUpstream } from './helpers';

const SLOW_CALLS = 8;
const SLOW_MS = 3000;
/** A call in flight on a killed replica must end this soon after the kill. */
const FAIL_FAST_MS = 1000;

describe('fault: a proxy replica crashes (kill -9) under load', () => {
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

  it('fails the requests in flight on it with 502, and every later request succeeds on the other replica', async () => {
    upstream = await startToolUpstream();
    const harness = (h = await startHarness({ servers: [{ name: 'tools', url: upstream.url }], startProxy: false }));
    const gw = harness.gateway;
    const hostPort = new URL(gw.url).host;
    const creds = { secret: harness.secret, apiKey: harness.apiKey };
    const a = spawnProxy(hostPort, creds, { name: 'replica-a' });
    spawnProxy(hostPort, creds, { name: 'replica-b' });
    const connsOf = (name: string) => gw.registry.connections('corp').filter((c) => c.proxyName === name);
    await waitFor(() => connsOf('replica-a').length > 0 && connsOf('replica-b').length > 0, { timeoutMs: 10_000, message: 'both replicas connected' });

    const load = new Load(() => callTool(gw.url, harness.apiKey, { delayMs: 5, boundMs: 10_000 }), 4);
    await waitFor(() => load.outcomes.length >= 20, { timeoutMs: 10_000, message: 'load running' });

    // Slow calls spread over both replicas (fewest streams in flight first), so some are on A.
    const slow = Array.from({ length: SLOW_CALLS }, () => callTool(gw.url, harness.apiKey, { delayMs: SLOW_MS, boundMs: SLOW_MS + 5000 }));
    const activeOn = (name: string): number => connsOf(name).reduce((n, c) => n + c.mux.activeStreams, 0);
    await waitFor(() => upstream!.received - upstream!.answered >= SLOW_CALLS && activeOn('replica-a') > 0 && activeOn('replica-b') > 0, {
      timeoutMs: 5000,
      message: 'slow calls in flight on both replicas',
    });
    const inFlightOnA = activeOn('replica-a');

    const tKill = Date.now();
    expect(await a.stop({ signal: 'SIGKILL' })).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor(() => connsOf('replica-a').length === 0, { timeoutMs: 5000, message: "the gateway to drop replica A's connections" });
    const tNoticed = Date.now();

    // Keep the load going on B alone for a while.
    await waitFor(() => load.outcomes.filter((o) => o.startedAt > tNoticed).length >= 50, { timeoutMs: 10_000, message: 'load after the kill' });
    const slowOutcomes = await Promise.all(slow);
    const outcomes = await load.stop();

    const slowFailed = slowOutcomes.filter((o) => o.status !== 200);
    expect(slowFailed.length).toBeGreaterThan(0);
    for (const o of slowFailed) {
      expect({ status: o.status, code: o.code }).toEqual({ status: 502, code: 'TUNNEL_CONNECTION_LOST' });
      expect(o.endedAt - tKill).toBeLessThan(FAIL_FAST_MS);
    }
    // The slow calls on B were not disturbed.
    expect(slowOutcomes.filter((o) => o.status === 200).length).toBe(SLOW_CALLS - slowFailed.length);

    const all = [...outcomes, ...slowOutcomes];
    expect(all.filter((o) => o.timedOut)).toEqual([]);
    // Whatever failed was in flight on A (or sent to it before the gateway noticed): 502, never a hang.
    const failed = all.filter((o) => o.status !== 200);
    for (const o of failed) {
      expect({ status: o.status, code: o.code }).toEqual({ status: 502, code: 'TUNNEL_CONNECTION_LOST' });
      expect(o.startedAt).toBeLessThanOrEqual(tNoticed);
    }
    const after = outcomes.filter((o) => o.startedAt > tNoticed);
    expect(after.filter((o) => o.status !== 200)).toEqual([]);

    console.log(
      [
        `replica crash: ${inFlightOnA} streams in flight on A at the kill; the gateway dropped A ${tNoticed - tKill} ms after kill -9`,
        `slow calls: ${slowFailed.length}/${SLOW_CALLS} failed (${summarize(slowFailed)}), ended ${Math.max(...slowFailed.map((o) => o.endedAt - tKill))} ms after the kill at the latest`,
        `load: ${outcomes.length} calls (${summarize(outcomes)}); ${after.length} started after the gateway noticed, all 200`,
      ].join('\n'),
    );
  }, 30_000);
});
