/**
 * "Rolling restart with N open SSE streams" (issue 13): a gateway and two proxy replicas (the real
 * CLI) on one tunnel, N clients holding resumable SSE streams (upstream.ts `/rsse`: every event has
 * an id, `Last-Event-ID` continues after it). Each replica in turn gets SIGTERM and is started again
 * once it exited. Measured: client streams cut, events lost or duplicated (every stream must end
 * with events 0..E-1 exactly once), and how long each replica took from SIGTERM to exit (its drain).
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type Procs, type Started } from './procs';
import { MALLOC_ENV } from './shipped-env';
import type { Results } from './scenarios';

const CLI = join(__dirname, '..', 'cli', 'main.js');

export interface ContinuityOptions {
  streams: number;
  /** Events per stream, one every `intervalMs`: the streams must outlive both restarts. */
  events: number;
  intervalMs: number;
}

/** What the clients saw. */
interface Seen {
  /** Streams that delivered their first event. */
  open: number;
  disconnects: number;
  lost: number;
  duplicated: number;
}

/** Opens one stream and counts what it delivered; resolves when it ended (or failed). */
function readStream(origin: string, path: string, apiKey: string, events: number, seen: Seen, agent: http.Agent): Promise<void> {
  return new Promise((resolve) => {
    const got = new Map<number, number>();
    let text = '';
    const done = (cut: boolean): void => {
      if (cut) seen.disconnects++;
      for (let i = 0; i < events; i++) {
        const n = got.get(i) ?? 0;
        if (n === 0) seen.lost++;
        if (n > 1) seen.duplicated += n - 1;
      }
      resolve();
    };
    const req = http.get(`${origin}${path}`, { agent, headers: { authorization: `Bearer ${apiKey}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return done(true);
      }
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        const blocks = text.split('\n\n');
        text = blocks.pop() ?? '';
        for (const b of blocks) {
          const m = /^id: (\d+)$/m.exec(b);
          if (!m) continue;
          if (got.size === 0) seen.open++;
          got.set(Number(m[1]), (got.get(Number(m[1])) ?? 0) + 1);
        }
      });
      res.once('end', () => done(false));
      res.once('error', () => done(true));
      res.once('aborted', () => done(true));
    });
    req.once('error', () => done(true));
  });
}

/** Gateway (fixed port) and two named proxy replicas, configured as in production. */
async function startTunnel(procs: Procs, upstreamOrigin: string, dir: string): Promise<{ origin: string; apiKey: string; replica: (name: string) => Promise<Started> }> {
  const secret = randomBytes(32).toString('base64url');
  const apiKey = randomBytes(24).toString('base64url');
  const port = await freePort();
  const cfg = join(dir, 'continuity-gateway.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      listen: { host: '127.0.0.1', port },
      tunnels: [{ id: 'cont', secrets: [secret] }],
      servers: [{ name: 'cont', tunnel: 'cont', url: `${upstreamOrigin}/rsse` }],
      clients: [{ name: 'bench', apiKey, servers: ['cont'] }],
    }),
  );
  // Info: the readiness lines ("gateway listening", "tunnel connected and authenticated") are info.
  const env = { ...MALLOC_ENV, MCP_TUNNEL_LOG_LEVEL: 'info', MCP_TUNNEL_AUDIT: join(dir, 'log', 'continuity-audit.log') };
  await procs.start('cont-gateway', process.execPath, [CLI, 'gateway', '--config', cfg], { env, ready: /gateway listening/ });
  const replica = (name: string): Promise<Started> =>
    procs.start(name, process.execPath, [CLI, 'proxy'], {
      env: { ...env, MCP_TUNNEL_URL: `ws://127.0.0.1:${port}/tunnel/cont`, MCP_TUNNEL_SECRET: secret, MCP_TUNNEL_PROXY_NAME: name, MCP_TUNNEL_DRAIN_GRACE_MS: '60000' },
      ready: /tunnel connected and authenticated/,
      readyCount: 2,
    });
  return { origin: `http://127.0.0.1:${port}`, apiKey, replica };
}

/**
 * Runs the scenario once and records `continuity.disconnects`, `.lost`, `.duplicated` and
 * `.drainMs` (the slower replica's SIGTERM → exit) for the target `tunnel`.
 */
export async function continuityRun(procs: Procs, upstreamOrigin: string, dir: string, o: ContinuityOptions, r: Results): Promise<void> {
  const t = await startTunnel(procs, upstreamOrigin, dir);
  const replicas = [await t.replica('replica-a'), await t.replica('replica-b')];
  const seen: Seen = { open: 0, disconnects: 0, lost: 0, duplicated: 0 };
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const run = `${process.pid}-${Date.now()}`;
  const streams = Array.from({ length: o.streams }, (_, i) =>
    readStream(t.origin, `/mcp/cont?stream=${run}-${i}&events=${o.events}&intervalMs=${o.intervalMs}`, t.apiKey, o.events, seen, agent),
  );
  // Every stream open (its first event delivered) before the first restart; at most 30 s.
  for (let waited = 0; seen.open + seen.disconnects < o.streams && waited < 30_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
  const drains: number[] = [];
  for (const [i, name] of ['replica-a', 'replica-b'].entries()) {
    const t0 = Date.now();
    await procs.stop(replicas[i]!, 'SIGTERM', 60_000);
    drains.push(Date.now() - t0);
    replicas[i] = await t.replica(name);
  }
  const drainMs = Math.max(...drains);
  r.notes.push(`Rolling restart with ${o.streams} open SSE streams: SIGTERM → exit ${drains.map((d) => `${d} ms`).join(' and ')} (replica A, then B).`);
  await Promise.all(streams);
  agent.destroy();
  r.add('continuity.disconnects', 'tunnel', seen.disconnects);
  r.add('continuity.lost', 'tunnel', seen.lost);
  r.add('continuity.duplicated', 'tunnel', seen.duplicated);
  r.add('continuity.drainMs', 'tunnel', drainMs);
}
