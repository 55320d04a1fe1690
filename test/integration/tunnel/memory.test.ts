/**
 * "Done when": a 200 MiB streamed response whose reader stops reading does not grow the gateway or
 * the proxy (RSS growth well under 100 MB), and another stream on the same tunnel keeps flowing.
 *
 * Gateway and proxy run as child processes of the built CLI (`npm run build` first) so their RSS
 * can be measured on their own; the upstream and the clients run in this process. The upstream
 * writes only while `write()` returns true and otherwise waits for 'drain', so a stall anywhere in
 * the chain shows up as an upstream blocked on drain instead of as memory somewhere.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_PATH, rssOf, spawnCli, stopAllProcesses, waitFor, type SpawnedProcess } from '../../helpers';

const MiB = 1024 * 1024;
const BIG_BYTES = 200 * MiB;
const SIDE_BYTES = 20 * MiB;
const READ_BEFORE_STALL = 4 * MiB;
const CHUNK = 64 * 1024;
const MAX_RSS_GROWTH = 100 * MiB;

/** What the upstream did for one response. */
interface UpstreamStream {
  total: number;
  written: number;
  /** True while the last `write()` returned false and the upstream waits for 'drain'. */
  blocked: boolean;
  drainWaits: number;
  lastWriteAt: number;
  /** Hex SHA-256 of everything written, once the response ended. */
  sha256: string | null;
  closedEarly: boolean;
}

/** `GET /bytes?bytes=N&name=X`: N bytes in 64 KiB chunks (each chunk numbered), respecting backpressure. */
async function startDrainOnlyUpstream(): Promise<{ origin: string; streams: Map<string, UpstreamStream>; close(): Promise<void> }> {
  const streams = new Map<string, UpstreamStream>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const total = Number(url.searchParams.get('bytes') ?? '0');
    const s: UpstreamStream = { total, written: 0, blocked: false, drainWaits: 0, lastWriteAt: Date.now(), sha256: null, closedEarly: false };
    streams.set(url.searchParams.get('name') ?? 'unnamed', s);
    const hash = createHash('sha256');
    let index = 0;
    res.once('close', () => {
      if (!res.writableFinished) s.closedEarly = true;
    });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
    const pump = (): void => {
      s.blocked = false;
      while (s.written < total) {
        if (res.destroyed) return;
        const n = Math.min(CHUNK, total - s.written);
        const chunk = Buffer.allocUnsafe(n).fill(index & 0xff);
        chunk.writeUInt32BE(index++, 0);
        hash.update(chunk);
        s.written += n;
        s.lastWriteAt = Date.now();
        if (!res.write(chunk)) {
          s.blocked = true;
          s.drainWaits++;
          res.once('drain', pump);
          return;
        }
      }
      s.sha256 = hash.digest('hex');
      res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    streams,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A download through the gateway that hashes what it reads and can be paused. */
interface Download {
  res: http.IncomingMessage;
  received: number;
  sha256: () => string;
  /** Resolves at the end of the body; rejects if the response fails or is cut. */
  done: Promise<void>;
}

function download(url: string, apiKey: string, onData?: (d: Download) => void): Promise<Download> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${apiKey}` }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`download ${url}: HTTP ${res.statusCode}`));
        res.resume();
        return;
      }
      const hash = createHash('sha256');
      let digest: string | null = null;
      const d: Download = {
        res,
        received: 0,
        sha256: () => (digest ??= hash.digest('hex')),
        done: new Promise<void>((ok, fail) => {
          res.once('end', () => (res.complete ? ok() : fail(new Error('response not complete'))));
          res.once('error', fail);
        }),
      };
      d.done.catch(() => undefined); // observed by the test where it matters
      res.on('data', (c: Buffer) => {
        hash.update(c);
        d.received += c.length;
        onData?.(d);
      });
      resolve(d);
    });
    req.on('error', reject);
  });
}

const fmt = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

describe('memory under a stalled reader (gateway and proxy as CLI child processes)', () => {
  let dir: string;
  let upstream: Awaited<ReturnType<typeof startDrainOnlyUpstream>> | null = null;
  const open: http.IncomingMessage[] = [];

  beforeAll(() => {
    if (!fs.existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run \`npm run build\` before this test`);
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-memory-'));
  });
  afterEach(async () => {
    for (const r of open.splice(0)) r.destroy();
    await stopAllProcesses();
    await upstream?.close();
    upstream = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds a 200 MiB response for a reader that stopped, stays bounded, and keeps another stream flowing', async () => {
    const t0 = Date.now();
    upstream = await startDrainOnlyUpstream();
    const secret = randomBytes(32).toString('base64url');
    const apiKey = randomBytes(24).toString('base64url');
    const configFile = path.join(dir, 'gateway.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        tunnels: [{ id: 'corp', secrets: [secret] }],
        servers: [{ name: 'bulk', tunnel: 'corp', url: `${upstream.origin}/bytes` }],
        clients: [{ name: 'alice', apiKey, servers: ['*'] }],
      }),
    );
    const gateway: SpawnedProcess = spawnCli(['gateway', '--config', configFile], { cleanEnv: true });
    const listening = await gateway.waitForJson((e) => e.msg === 'gateway listening');
    const gatewayUrl = String(listening.url);
    const proxy = spawnCli(['proxy'], {
      cleanEnv: true,
      env: { MCP_TUNNEL_URL: `${gatewayUrl.replace(/^http/, 'ws')}/tunnel/corp`, MCP_TUNNEL_SECRET: secret, MCP_TUNNEL_PROXY_NAME: 'memory-proxy' },
    });
    await gateway.waitForJson((e) => e.msg === 'proxy connected and authenticated');
    const bulk = (name: string, bytes: number): string => `${gatewayUrl}/mcp/bulk?bytes=${bytes}&name=${name}`;

    // Warm up both processes (agents, pools, JIT) so the baseline is a process that has served.
    const warm = await download(bulk('warmup', 4 * MiB), apiKey);
    await warm.done;
    expect(warm.received).toBe(4 * MiB);
    const baseline = { gateway: rssOf(gateway.pid), proxy: rssOf(proxy.pid) };
    const peak = { ...baseline };
    const sample = (): void => {
      peak.gateway = Math.max(peak.gateway, rssOf(gateway.pid));
      peak.proxy = Math.max(peak.proxy, rssOf(proxy.pid));
    };

    // The big download: read a few MiB, then stop reading (paused, nothing consumed).
    let paused = false;
    const big = await download(bulk('big', BIG_BYTES), apiKey, (d) => {
      if (!paused && d.received >= READ_BEFORE_STALL) {
        paused = true;
        d.res.pause();
      }
    });
    open.push(big.res);
    const bigUp = await waitFor(() => upstream!.streams.get('big'));

    // Wait for the stall to reach the upstream: blocked on 'drain' and no write for a while.
    await waitFor(() => paused && bigUp.blocked && Date.now() - bigUp.lastWriteAt > 500, {
      timeoutMs: 20_000,
      message: () => `the upstream to block (written ${fmt(bigUp.written)}, blocked ${String(bigUp.blocked)})`,
    });
    const tStalled = Date.now();
    sample();
    const stalledAt = { written: bigUp.written, received: big.received, gateway: rssOf(gateway.pid), proxy: rssOf(proxy.pid) };

    // Meanwhile another stream on the same tunnel flows to the end, while RSS is sampled.
    const sampler = setInterval(sample, 25);
    let side: Awaited<ReturnType<typeof download>>;
    try {
      side = await download(bulk('side', SIDE_BYTES), apiKey);
      open.push(side.res);
      await side.done;
    } finally {
      clearInterval(sampler); // also when the download fails: the interval would keep the worker alive
    }
    sample();
    const tSide = Date.now();
    expect(side.received).toBe(SIDE_BYTES);
    expect(side.sha256()).toBe(upstream.streams.get('side')!.sha256);
    const afterSide = { gateway: rssOf(gateway.pid), proxy: rssOf(proxy.pid) };

    // The stalled stream did not move while the other one flowed: nothing buffered it.
    expect(bigUp.written).toBe(stalledAt.written);
    expect(bigUp.blocked).toBe(true);
    expect(big.received).toBe(stalledAt.received);
    const inFlight = stalledAt.written - stalledAt.received;

    // Resume the stalled reader and read everything: the 200 MiB really streamed, intact.
    big.res.resume();
    await big.done;
    const tDone = Date.now();
    sample();
    const afterAll = { gateway: rssOf(gateway.pid), proxy: rssOf(proxy.pid) };
    expect(big.received).toBe(BIG_BYTES);
    expect(big.sha256()).toBe(bigUp.sha256);
    expect(bigUp.closedEarly).toBe(false);

    const growth = { gateway: peak.gateway - baseline.gateway, proxy: peak.proxy - baseline.proxy };
    console.log(
      [
        `RSS baseline        gateway ${fmt(baseline.gateway)}, proxy ${fmt(baseline.proxy)}`,
        `RSS stalled         gateway ${fmt(stalledAt.gateway)}, proxy ${fmt(stalledAt.proxy)}`,
        `RSS after side 20M  gateway ${fmt(afterSide.gateway)}, proxy ${fmt(afterSide.proxy)}`,
        `RSS after all 200M  gateway ${fmt(afterAll.gateway)}, proxy ${fmt(afterAll.proxy)}`,
        `RSS peak growth     gateway ${fmt(growth.gateway)}, proxy ${fmt(growth.proxy)} (limit ${fmt(MAX_RSS_GROWTH)})`,
        `stall: client read ${fmt(stalledAt.received)}, upstream wrote ${fmt(stalledAt.written)}, in flight ${fmt(inFlight)}, drain waits ${bigUp.drainWaits}`,
        `times: setup+stall ${tStalled - t0} ms, side 20M ${tSide - tStalled} ms, rest of 200M ${tDone - tSide} ms, total ${tDone - t0} ms`,
      ].join('\n'),
    );
    expect(growth.gateway).toBeLessThan(MAX_RSS_GROWTH);
    expect(growth.proxy).toBeLessThan(MAX_RSS_GROWTH);
    // Everything between the upstream and the reader (socket buffers of three TCP connections, one
    // stream window in the tunnel, a few Node stream buffers) is a few MiB, not the response.
    expect(inFlight).toBeLessThan(48 * MiB);

    for (const proc of [gateway, proxy]) {
      const output = proc.lines.map((l) => l.line).join('\n');
      expect(output).not.toContain(secret);
      expect(output).not.toContain(apiKey);
    }
  }, 120_000);
});
