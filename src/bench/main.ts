#!/usr/bin/env node
/**
 * `npm run bench`: requests per second, latency and throughput, direct vs through the tunnel,
 * measured in one run on this machine. Gateway, proxy and upstream run as separate processes
 * (the real CLI), the load generator in this one. Loopback only.
 *
 * Options (env): BENCH_SECONDS (per scenario, default 3), BENCH_MB (throughput body, default 64).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Pool } from 'undici';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const MB = Number(process.env['BENCH_MB'] ?? 64);
const CLI = join(__dirname, '..', 'cli', 'main.js');
const children: ChildProcess[] = [];

function start(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${String(ready)} from ${args.join(' ')}`)), 15_000);
    const onLine = (line: string): void => {
      const m = line.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
}

async function load(origin: string, path: string, headers: Record<string, string>, concurrency: number): Promise<Result> {
  const pool = new Pool(origin, { connections: concurrency, pipelining: 1 });
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x'.repeat(900) } } });
  const one = async (): Promise<void> => {
    const r = await pool.request({ method: 'POST', path, headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body });
    await r.body.dump();
    if (r.statusCode !== 200) throw new Error(`status ${r.statusCode}`);
  };
  const warmUntil = Date.now() + 500;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < warmUntil) await one();
  }));
  const lat: number[] = [];
  const until = Date.now() + SECONDS * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        const s = process.hrtime.bigint();
        await one();
        lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await pool.close();
  lat.sort((a, b) => a - b);
  return { rps: lat.length / secs, p50: lat[Math.floor(lat.length * 0.5)] ?? 0, p99: lat[Math.floor(lat.length * 0.99)] ?? 0 };
}

async function throughput(origin: string, path: string, headers: Record<string, string>): Promise<number> {
  const pool = new Pool(origin, { connections: 1 });
  const t0 = process.hrtime.bigint();
  const r = await pool.request({ method: 'GET', path, headers });
  let n = 0;
  for await (const c of r.body) n += (c as Buffer).length;
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await pool.close();
  if (n !== MB * 1024 * 1024) throw new Error(`short body: ${n}`);
  return n / 1024 / 1024 / secs;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-tunnel-bench-'));
  try {
    const secret = randomBytes(32).toString('base64url');
    const apiKey = randomBytes(24).toString('base64url');
    const up = await start([join(__dirname, 'upstream.js')], {}, /^UPSTREAM_URL=(\S+)/);
    const upstreamUrl = up.match[1]!;
    const cfg = join(dir, 'gateway.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        tunnels: [{ id: 'bench', secrets: [secret] }],
        // The gateway routes only to configured URLs (decisions.md D8): the bytes route is a server of its own.
        servers: [
          { name: 'bench', tunnel: 'bench', url: `${upstreamUrl}/mcp` },
          { name: 'bench-bytes', tunnel: 'bench', url: `${upstreamUrl}/bytes` },
        ],
        clients: [{ name: 'bench', apiKey, servers: ['bench', 'bench-bytes'] }],
      }),
    );
    const quiet = { MCP_TUNNEL_LOG_LEVEL: 'warn', MCP_TUNNEL_AUDIT: process.env['BENCH_AUDIT'] ?? join(dir, 'audit.log') };
    const gw = await start([CLI, 'gateway', '--config', cfg], { ...quiet, MCP_TUNNEL_LOG_LEVEL: 'info' }, /"url":"(http:\/\/127\.0\.0\.1:\d+)".*gateway listening|gateway listening.*"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
    const gatewayUrl = gw.match[1] ?? gw.match[2]!;
    await start([CLI, 'proxy'], { ...quiet, MCP_TUNNEL_LOG_LEVEL: 'info', MCP_TUNNEL_URL: `${gatewayUrl.replace('http', 'ws')}/tunnel/bench`, MCP_TUNNEL_SECRET: secret }, /tunnel connected and authenticated/);

    const auth = { authorization: `Bearer ${apiKey}` };
    const rows: Array<[string, Result, Result]> = [];
    for (const c of [1, 16]) {
      const direct = await load(upstreamUrl, '/mcp', {}, c);
      const tunnel = await load(gatewayUrl, '/mcp/bench', auth, c);
      rows.push([`POST ~1 KB, concurrency ${c}`, direct, tunnel]);
    }
    const tDirect = await throughput(upstreamUrl, `/bytes?n=${MB * 1024 * 1024}`, {});
    const tTunnel = await throughput(gatewayUrl, `/mcp/bench-bytes?n=${MB * 1024 * 1024}`, auth);

    const f = (n: number, d = 0): string => n.toFixed(d);
    console.log(`\nmcp-tunnel bench — ${SECONDS}s per scenario, node ${process.version}, one run (compare ratios, not absolutes)\n`);
    console.log('| scenario | direct req/s | tunnel req/s | ratio | direct p50/p99 ms | tunnel p50/p99 ms |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, d, t] of rows) {
      console.log(`| ${name} | ${f(d.rps)} | ${f(t.rps)} | ${f(t.rps / d.rps, 2)} | ${f(d.p50, 2)} / ${f(d.p99, 2)} | ${f(t.p50, 2)} / ${f(t.p99, 2)} |`);
    }
    console.log(`| GET ${MB} MB body | ${f(tDirect)} MB/s | ${f(tTunnel)} MB/s | ${f(tTunnel / tDirect, 2)} | | |`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  for (const c of children) c.kill('SIGKILL');
  process.exitCode = 1;
});
