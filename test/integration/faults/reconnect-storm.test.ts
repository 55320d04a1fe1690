/**
 * Fault: a gateway restart with 100 proxies connected — the thundering herd. Their reconnect
 * attempts must spread over time (full-jitter backoff), all must be back within the backoff bound,
 * and the gateway's memory must return to its idle level once they are gone.
 *
 * The gateway is a CLI child process (its RSS is measured on its own); the 100 proxies are
 * `startProxy` instances in this process, each with its own seeded random source.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { filter, firstValueFrom } from 'rxjs';
import { startProxy, type RunningProxy } from '../../../src/proxy';
import type { ProxyConfig } from '../../../src/config/types';
import { CLI_PATH, rssOf, stopAllProcesses, waitFor, type SpawnedProcess } from '../../helpers';
import { startHarness } from '../../helpers/tunnel-harness';
import { newCredentials, spawnGateway, startToolUpstream, writeGatewayConfig, type Credentials, type ToolUpstream } from './helpers';

const PROXIES = 100;
const BASE_MS = 100;
const CAP_MS = 2000;
const MiB = 1024 * 1024;
/** RSS after the herd left may exceed the idle level by this much (allocator and JIT noise). */
const RSS_SLACK = 24 * MiB;

/** mulberry32: a small seeded PRNG, so every proxy has its own, reproducible, random sequence. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Authenticated proxy connections of the gateway process, from its log (connected minus closed): the
 * public /healthz no longer reveals tunnels (issue 8 defect 11).
 */
function tunnelCount(proc: SpawnedProcess): number {
  const lines = proc.jsonLines();
  return lines.filter((e) => e.msg === 'proxy connected and authenticated').length - lines.filter((e) => e.msg === 'proxy connection closed').length;
}

/** `time` (pino ISO time, as epoch ms) of every "proxy connected and authenticated" line from index `from`. */
function connectTimes(proc: SpawnedProcess, from: number): number[] {
  return proc.jsonLines().slice(from).filter((e) => e.msg === 'proxy connected and authenticated').map((e) => Date.parse(String(e.time)));
}

const silent = pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));
const fmt = (b: number): string => `${(b / MiB).toFixed(1)} MiB`;

describe('fault: reconnect storm of 100 proxies after a gateway restart', () => {
  let dir: string;
  let upstream: ToolUpstream | null = null;
  const proxies: RunningProxy[] = [];

  beforeAll(() => {
    if (!fs.existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` first`);
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-fault-storm-'));
  });
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.close(0)));
    await stopAllProcesses();
    await upstream?.close();
    upstream = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const startHerd = (gatewayPort: number, creds: Credentials, template: ProxyConfig, seedBase: number): RunningProxy[] =>
    Array.from({ length: PROXIES }, (_, i) => {
      const c = structuredClone(template);
      c.url = `ws://127.0.0.1:${gatewayPort}/tunnel/corp`;
      c.secret = creds.secret;
      c.name = `herd-${i}`;
      c.reconnect = { baseMs: BASE_MS, capMs: CAP_MS };
      const p = startProxy(c, { logger: silent, auditLogger: silent, random: seeded(seedBase + i) });
      proxies.push(p);
      return p;
    });

  it('spreads the reconnects over the backoff window, and the gateway returns to its idle memory', async () => {
    upstream = await startToolUpstream();
    const creds = newCredentials();
    // A proxy config template with every field filled in (the harness builds one); its gateway is not used.
    const tmpl = await startHarness({ servers: [], startProxy: false });
    const template = structuredClone(tmpl.proxyConfig);
    await tmpl.close();
    const config = writeGatewayConfig(dir, creds, upstream.url, { admission: false });

    const g1 = await spawnGateway(config);
    const herd = startHerd(g1.port, creds, template, 1000);
    await Promise.all(herd.map((p) => p.ready));
    await waitFor(() => tunnelCount(g1.proc) === PROXIES, { timeoutMs: 20_000, message: `${PROXIES} proxies connected` });

    // kill -9: every proxy sees its connection reset at the same instant.
    await g1.proc.stop({ signal: 'SIGKILL' });
    const tKill = Date.now();
    const g2 = await spawnGateway(writeGatewayConfig(dir, creds, upstream.url, { admission: false, port: g1.port }));
    const tListen = Date.now();
    const idleRss = rssOf(g2.proc.pid);
    await waitFor(() => tunnelCount(g2.proc) === PROXIES, { timeoutMs: CAP_MS + 10_000, message: `${PROXIES} proxies back` });
    const tAllBack = Date.now();
    const connectedRss = rssOf(g2.proc.pid);
    await waitFor(() => connectTimes(g2.proc, 0).length >= PROXIES, { timeoutMs: 2000 });

    const times = connectTimes(g2.proc, 0).sort((a, b) => a - b);
    const first = times[0]!;
    const last = times[times.length - 1]!;
    const spread = last - first;
    const buckets10ms = new Set(times.map((t) => Math.floor(t / 10))).size;
    const p10 = times[Math.floor(times.length * 0.1)]!;
    const p90 = times[Math.floor(times.length * 0.9)]!;
    // Not a synchronized herd: the reconnects cover at least the base delay, in many distinct 10 ms
    // slots (a herd lands in one to three). The times are the gateway's log lines: a gateway starved
    // of CPU (the suite's other workers) handles a few handshakes per turn, so ~25 slots on a quiet
    // machine can be 17 in a busy run; 12 still tells a spread from a herd.
    expect(spread).toBeGreaterThanOrEqual(BASE_MS);
    expect(p90 - p10).toBeGreaterThanOrEqual(BASE_MS / 2);
    expect(buckets10ms).toBeGreaterThanOrEqual(12);
    // ...and every proxy is back within one capped delay (plus a handshake) of the gateway listening.
    expect(last - tListen).toBeLessThan(CAP_MS + 2000);

    // The herd goes away; the gateway's memory must come back down to where it idled.
    await Promise.all(proxies.splice(0).map((p) => p.close(0)));
    await waitFor(() => tunnelCount(g2.proc) === 0, { timeoutMs: 10_000, message: 'every proxy gone' });
    const settled = await waitFor(
      () => {
        const rss = rssOf(g2.proc.pid);
        return rss <= idleRss + RSS_SLACK ? rss : false;
      },
      { timeoutMs: 10_000, intervalMs: 100, message: () => `gateway RSS back within ${fmt(RSS_SLACK)} of idle ${fmt(idleRss)} (now ${fmt(rssOf(g2.proc.pid))})` },
    );

    // A second herd on the same gateway: a leak would show up as growth between the rounds.
    const herd2 = startHerd(g2.port, creds, template, 5000);
    await Promise.all(herd2.map((p) => firstValueFrom(p.status$.pipe(filter((s) => s.state === 'connected')))));
    await waitFor(() => tunnelCount(g2.proc) === PROXIES, { timeoutMs: 20_000 });
    await Promise.all(proxies.splice(0).map((p) => p.close(0)));
    await waitFor(() => tunnelCount(g2.proc) === 0, { timeoutMs: 10_000 });
    const settled2 = await waitFor(() => {
      const rss = rssOf(g2.proc.pid);
      return rss <= settled + RSS_SLACK / 2 ? rss : false;
    }, { timeoutMs: 10_000, intervalMs: 100, message: () => `second round RSS within ${fmt(RSS_SLACK / 2)} of ${fmt(settled)}` });

    console.log(
      [
        `storm: ${PROXIES} proxies (base ${BASE_MS} ms, cap ${CAP_MS} ms); gateway restarted ${tListen - tKill} ms after kill -9`,
        `reconnects at the gateway: first ${first - tListen} ms, last ${last - tListen} ms after it listened; spread ${spread} ms, p10–p90 ${p90 - p10} ms, ${buckets10ms} distinct 10 ms slots; all back (healthz) ${tAllBack - tListen} ms`,
        `gateway RSS: idle ${fmt(idleRss)}, 100 connected ${fmt(connectedRss)}, after they left ${fmt(settled)}, after a second herd came and left ${fmt(settled2)}`,
      ].join('\n'),
    );
  }, 60_000);
});
