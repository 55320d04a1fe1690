/**
 * Reconnect soak (`npm run soak`, not part of `npm test`): a gateway, a proxy and a tiny upstream
 * in this process go through SOAK_CYCLES (default 10,000) cycles of
 *
 *   proxy connects and authenticates → one request through the tunnel → the gateway cuts the connection
 *
 * and the process is measured at intervals: active resources (`process.getActiveResourcesInfo()`:
 * sockets, timers, …), event listeners (process, the upstream server), live tunnel connections,
 * and memory (RSS and heapUsed, after `global.gc()` when run with `--expose-gc`). The verdict
 * compares the last samples with a baseline taken after a warm-up and exits 1 on growth beyond
 * small bounds.
 *
 * Environment: SOAK_CYCLES (default 10000), SOAK_SAMPLES (lines printed, default 10),
 * SOAK_HEAP_GROWTH_MIB (default 8), SOAK_RSS_GROWTH_MIB (default 64), SOAK_HANDLE_GROWTH (default 2).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadGatewayConfig, loadProxyConfig } from '../config';
import { startGateway, type RunningGateway } from '../gateway';
import type { Logger } from '../log';
import { CloseCode } from '../protocol';
import { startProxy, type RunningProxy } from '../proxy';
import { envNumber } from './options';

const MiB = 1024 * 1024;

const envInt = (name: string, fallback: number): number => envNumber(name, fallback, true);

interface Sample {
  cycle: number;
  /** Active resources by type (TCPWRAP, Timeout, …) and in total. */
  resources: Record<string, number>;
  handles: number;
  listeners: number;
  connections: number;
  rss: number;
  heapUsed: number;
  elapsedMs: number;
}

const gc: (() => void) | undefined = (globalThis as { gc?: () => void }).gc;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Listeners on every event of `emitter`. */
function listenerTotal(emitter: NodeJS.EventEmitter): number {
  return emitter.eventNames().reduce((n, e) => n + emitter.listenerCount(e), 0);
}

async function startUpstream(): Promise<{ server: http.Server; url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"ok"}]}}';
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** One POST through the gateway; resolves with the HTTP status (0 on a transport error). */
function request(gatewayUrl: string, apiKey: string): Promise<number> {
  const body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"soak","arguments":{}}}';
  return new Promise((resolve) => {
    const req = http.request(
      `${gatewayUrl}/mcp/tools`,
      {
        method: 'POST',
        agent: false,
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Polls until the tunnel has a usable connection that is not in `gone`; throws after `timeoutMs`. */
async function awaitFreshConnection(gw: RunningGateway, gone: ReadonlySet<string>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!gw.registry.connections('soak').some((c) => !gone.has(c.id) && c.mux.canOpenStream)) {
    if (Date.now() > deadline) throw new Error(`no proxy connection within ${timeoutMs} ms`);
    await sleep(1);
  }
}

function sample(cycle: number, gw: RunningGateway, upstream: http.Server, t0: number): Sample {
  gc?.();
  gc?.();
  const resources: Record<string, number> = {};
  const info = process.getActiveResourcesInfo();
  for (const r of info) resources[r] = (resources[r] ?? 0) + 1;
  const mem = process.memoryUsage();
  return {
    cycle,
    resources,
    handles: info.length,
    listeners: listenerTotal(process) + listenerTotal(upstream),
    connections: gw.registry.all().length,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    elapsedMs: Date.now() - t0,
  };
}

function describe(s: Sample): string {
  const res = Object.entries(s.resources)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return (
    `cycle ${String(s.cycle).padStart(6)}  ${(s.elapsedMs / 1000).toFixed(1).padStart(6)} s  ` +
    `rss ${(s.rss / MiB).toFixed(1)} MiB  heapUsed ${(s.heapUsed / MiB).toFixed(1)} MiB  ` +
    `handles ${s.handles} (${res})  listeners ${s.listeners}  tunnel connections ${s.connections}`
  );
}

interface SoakSettings {
  cycles: number;
  /** A sample every this many cycles. */
  every: number;
  /** The cycle whose sample is the baseline. */
  warmup: number;
  heapBound: number;
  rssBound: number;
  handleBound: number;
}

/** Reads the SOAK_* environment; throws on a value that is not a positive integer. */
function soakSettings(): SoakSettings {
  const cycles = envInt('SOAK_CYCLES', 10_000);
  const samples = Math.min(envInt('SOAK_SAMPLES', 10), cycles);
  return {
    cycles,
    heapBound: envInt('SOAK_HEAP_GROWTH_MIB', 8) * MiB,
    rssBound: envInt('SOAK_RSS_GROWTH_MIB', 64) * MiB,
    handleBound: envInt('SOAK_HANDLE_GROWTH', 2),
    every: Math.max(1, Math.floor(cycles / samples)),
    warmup: Math.min(Math.max(50, Math.floor(cycles / 20)), Math.max(1, cycles - 1)),
  };
}

/** The upstream, gateway and proxy under test, all in this process. */
interface Rig {
  upstream: Awaited<ReturnType<typeof startUpstream>>;
  gateway: RunningGateway;
  proxy: RunningProxy;
  apiKey: string;
}

async function startRig(): Promise<Rig> {
  const silent: Logger = pino({ level: 'silent' }, new Writable({ write: (_c, _e, cb) => cb() }));
  const secret = randomBytes(32).toString('base64url');
  const apiKey = randomBytes(24).toString('base64url');
  const upstream = await startUpstream();
  const gateway = await startGateway(
    loadGatewayConfig({
      env: {},
      overrides: {
        listen: { host: '127.0.0.1', port: 0 },
        tunnels: [{ id: 'soak', secrets: [secret] }],
        servers: [{ name: 'tools', tunnel: 'soak', url: upstream.url }],
        clients: [{ name: 'soak', apiKey, servers: ['*'] }],
        // Thousands of connections a minute from one address is the point here, not an attack.
        'limits.connectAttemptsPerMinute': 1_000_000,
        'limits.maxUnauthenticatedPerAddress': 1000,
      },
    }),
    { logger: silent, auditLogger: silent },
  );
  const proxy = startProxy(
    loadProxyConfig({
      env: {},
      overrides: { url: `${gateway.url.replace(/^http/, 'ws')}/tunnel/soak`, secret, name: 'soak-proxy', 'reconnect.baseMs': 1, 'reconnect.capMs': 10 },
    }),
    { logger: silent, auditLogger: silent },
  );
  return { upstream, gateway, proxy, apiKey };
}

async function stopRig({ upstream, gateway, proxy }: Rig): Promise<void> {
  await proxy.close(0);
  await gateway.close(0);
  await upstream.close();
}

/** What the cycles measured. */
interface SoakRun {
  t0: number;
  baseline: Sample | null;
  taken: Sample[];
  failedRequests: number;
}

/** Runs every cycle (wait for a fresh connection, one request, cut it), sampling as it goes. */
async function runCycles({ gateway, proxy, upstream, apiKey }: Rig, s: SoakSettings): Promise<SoakRun> {
  const run: SoakRun = { t0: Date.now(), baseline: null, taken: [], failedRequests: 0 };
  await proxy.ready;
  let gone = new Set<string>();
  for (let cycle = 1; cycle <= s.cycles; cycle++) {
    await awaitFreshConnection(gateway, gone, 10_000);
    if ((await request(gateway.url, apiKey)) !== 200) run.failedRequests++;
    if (cycle === s.warmup) {
      run.baseline = sample(cycle, gateway, upstream.server, run.t0);
      console.log(`baseline  ${describe(run.baseline)}`);
    }
    if (cycle % s.every === 0 || cycle === s.cycles) {
      const taken = sample(cycle, gateway, upstream.server, run.t0);
      run.taken.push(taken);
      console.log(`          ${describe(taken)}`);
    }
    gone = new Set(gateway.registry.connections('soak').map((c) => c.id));
    for (const c of gateway.registry.connections('soak')) c.mux.close(CloseCode.GOING_AWAY, 'soak: cycle over');
  }
  await awaitFreshConnection(gateway, gone, 10_000);
  return run;
}

/** Prints the growth from the baseline to the last samples and the verdict; returns the exit code. */
function verdict(run: SoakRun, s: SoakSettings): number {
  const { baseline, taken, failedRequests } = run;
  const last = taken.slice(-3);
  if (baseline === null || last.length === 0) {
    console.log('verdict: too few cycles for a baseline');
    return 1;
  }
  // The least of the last samples: one transient socket in a sample is noise, growth is in all of them.
  const min = (f: (x: Sample) => number): number => Math.min(...last.map(f));
  const growth = {
    handles: min((x) => x.handles) - baseline.handles,
    listeners: min((x) => x.listeners) - baseline.listeners,
    heapUsed: min((x) => x.heapUsed) - baseline.heapUsed,
    rss: min((x) => x.rss) - baseline.rss,
  };
  const problems: string[] = [];
  if (failedRequests > 0) problems.push(`${failedRequests} request(s) failed`);
  if (growth.handles > s.handleBound) problems.push(`active resources grew by ${growth.handles} (bound ${s.handleBound})`);
  if (growth.listeners > 0) problems.push(`listeners grew by ${growth.listeners}`);
  if (gc && growth.heapUsed > s.heapBound) problems.push(`heapUsed grew by ${(growth.heapUsed / MiB).toFixed(1)} MiB (bound ${s.heapBound / MiB} MiB)`);
  if (growth.rss > s.rssBound) problems.push(`RSS grew by ${(growth.rss / MiB).toFixed(1)} MiB (bound ${s.rssBound / MiB} MiB)`);
  const elapsed = (Date.now() - run.t0) / 1000;
  console.log(
    `growth from cycle ${baseline.cycle} to ${taken[taken.length - 1]!.cycle}: handles ${growth.handles}, listeners ${growth.listeners}, ` +
      `heapUsed ${(growth.heapUsed / MiB).toFixed(2)} MiB, rss ${(growth.rss / MiB).toFixed(1)} MiB; ${s.cycles} cycles in ${elapsed.toFixed(1)} s ` +
      `(${(s.cycles / elapsed).toFixed(0)}/s), ${failedRequests} failed requests`,
  );
  if (problems.length === 0) {
    console.log('verdict: OK — no growth in handles, listeners or memory beyond the bounds');
    return 0;
  }
  console.log(`verdict: GROWTH — ${problems.join('; ')}`);
  return 1;
}

async function main(): Promise<number> {
  const settings = soakSettings();
  const rig = await startRig();
  console.log(`soak: ${settings.cycles} reconnect cycles (connect, authenticate, one request, gateway cuts the connection); gc ${gc ? 'on' : 'OFF (run with --expose-gc)'}`);
  let run: SoakRun;
  try {
    run = await runCycles(rig, settings);
  } finally {
    await stopRig(rig);
  }
  return verdict(run, settings);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('soak failed:', err);
    process.exitCode = 1;
  },
);
