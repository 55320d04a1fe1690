/**
 * Shared pieces of the fault-injection suite: a minimal JSON-RPC upstream that answers `tools/call`
 * (optionally after a delay, to keep requests in flight), a bounded client call through the gateway,
 * and CLI gateway/proxy children wired with small timings.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { spawnCli, type SpawnedProcess } from '../../helpers';

/** A loopback upstream that answers every POST as a JSON-RPC `tools/call` result. */
export interface ToolUpstream {
  url: string;
  /** Requests received and answered. */
  received: number;
  answered: number;
  close(): Promise<void>;
}

/**
 * `POST /mcp` with `{ method: 'tools/call', params: { arguments: { delayMs } } }` answers after
 * `delayMs` (default 0) with a text result. Each request is its own call: no MCP session is needed,
 * so a request can land on any proxy connection.
 */
export async function startToolUpstream(): Promise<ToolUpstream> {
  const sockets = new Set<import('node:net').Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const handle: ToolUpstream = { url: '', received: 0, answered: 0, close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle.received++;
      let id: unknown = null;
      let delayMs = 0;
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown; params?: { arguments?: { delayMs?: unknown } } };
        id = body.id ?? null;
        const d = body.params?.arguments?.delayMs;
        if (typeof d === 'number') delayMs = d;
      } catch {
        /* answered as an empty call */
      }
      const answer = (): void => {
        timers.delete(t);
        if (res.destroyed) return;
        const out = JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: `ok ${String(id)}` }] } });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
        res.end(out);
        handle.answered++;
      };
      const t = setTimeout(answer, delayMs);
      timers.add(t);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  handle.url = `http://127.0.0.1:${port}/mcp`;
  let closing: Promise<void> | null = null;
  handle.close = () =>
    (closing ??= new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }));
  return handle;
}

/** How one client call through the gateway ended. */
export interface CallOutcome {
  id: number;
  /** HTTP status, or 0 when there was no HTTP answer (connection refused/reset, or the bound hit). */
  status: number;
  /** The gateway's error code (`TUNNEL_*`) from the JSON body, when there is one. */
  code: string | null;
  retryAfter: string | null;
  /** Transport error message when `status` is 0. */
  error: string | null;
  startedAt: number;
  endedAt: number;
  ms: number;
  /** True when the bound fired (the request hung). */
  timedOut: boolean;
}

let nextId = 1;

/**
 * One `tools/call` POST to `${gatewayUrl}/mcp/${server}`; never rejects and never takes longer than
 * `boundMs` (then `timedOut` is true). A fresh connection per call (no keep-alive pool) so that a
 * gateway restart does not show up as stale pooled sockets.
 */
export function callTool(gatewayUrl: string, apiKey: string, opts: { server?: string; delayMs?: number; boundMs?: number } = {}): Promise<CallOutcome> {
  const id = nextId++;
  const boundMs = opts.boundMs ?? 10_000;
  const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'work', arguments: { delayMs: opts.delayMs ?? 0 } } });
  const startedAt = Date.now();
  return new Promise<CallOutcome>((resolve) => {
    let settled = false;
    const done = (o: Omit<CallOutcome, 'id' | 'startedAt' | 'endedAt' | 'ms'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const endedAt = Date.now();
      resolve({ id, startedAt, endedAt, ms: endedAt - startedAt, ...o });
    };
    const req = http.request(
      `${gatewayUrl}/mcp/${opts.server ?? 'tools'}`,
      {
        method: 'POST',
        agent: false,
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => done({ status: 0, code: null, retryAfter: null, error: err.message, timedOut: false }));
        res.on('end', () => {
          let code: string | null = null;
          if ((res.statusCode ?? 0) >= 400) {
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { data?: { code?: unknown } } };
              const c = parsed.error?.data?.code;
              code = typeof c === 'string' ? c : null;
            } catch {
              code = null;
            }
          }
          const ra = res.headers['retry-after'];
          done({ status: res.statusCode ?? 0, code, retryAfter: typeof ra === 'string' ? ra : null, error: null, timedOut: false });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      done({ status: 0, code: null, retryAfter: null, error: `no answer within ${boundMs} ms`, timedOut: true });
    }, boundMs);
    req.on('error', (err) => done({ status: 0, code: null, retryAfter: null, error: err.message, timedOut: false }));
    req.end(body);
  });
}

/** Loads not stopped yet, for {@link stopAllLoads}. */
const runningLoads = new Set<Load>();

/**
 * Keeps `concurrency` calls running back to back until `stop()`, and records every outcome. A test
 * whose assertion fails before `stop()` leaves it calling forever (the jest worker then cannot
 * exit): call {@link stopAllLoads} in `afterEach`.
 */
export class Load {
  readonly outcomes: CallOutcome[] = [];
  private running = true;
  private readonly loops: Array<Promise<void>> = [];

  constructor(
    private readonly call: () => Promise<CallOutcome>,
    concurrency: number,
  ) {
    runningLoads.add(this);
    for (let i = 0; i < concurrency; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) this.outcomes.push(await this.call());
  }

  /** Stops starting new calls and waits for the ones in flight. */
  async stop(): Promise<CallOutcome[]> {
    this.running = false;
    runningLoads.delete(this);
    await Promise.all(this.loops);
    return this.outcomes;
  }

  failures(): CallOutcome[] {
    return this.outcomes.filter((o) => o.status !== 200);
  }
}

/**
 * For `afterEach`: stops every {@link Load} still running. Call it before stopping the processes
 * (no new calls start) and await it after (calls in flight to a killed gateway end at once):
 * `const loads = stopAllLoads(); await stopAllProcesses(); await loads;`.
 */
export async function stopAllLoads(): Promise<void> {
  await Promise.all([...runningLoads].map((l) => l.stop()));
}

/** Secrets and keys of one test's tunnel. */
export interface Credentials {
  secret: string;
  apiKey: string;
}

export function newCredentials(): Credentials {
  return { secret: randomBytes(32).toString('base64url'), apiKey: randomBytes(24).toString('base64url') };
}

/** Writes a gateway config file for one tunnel `corp` and one server `tools`; returns its path. */
export function writeGatewayConfig(
  dir: string,
  creds: Credentials,
  upstreamUrl: string,
  opts: { port?: number; connectWaitMs?: number; heartbeatMs?: number; admission?: boolean } = {},
): string {
  const file = path.join(dir, `gateway-${randomBytes(4).toString('hex')}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: opts.port ?? 0 },
      tunnels: [{ id: 'corp', secrets: [creds.secret] }],
      servers: [{ name: 'tools', tunnel: 'corp', url: upstreamUrl }],
      clients: [{ name: 'alice', apiKey: creds.apiKey, servers: ['*'] }],
      limits: {
        connectWaitMs: opts.connectWaitMs ?? 2000,
        // A herd of proxies from one loopback address must not be throttled by admission control.
        ...(opts.admission === false ? { maxUnauthenticatedPerAddress: 1000, maxUnauthenticated: 1000, connectAttemptsPerMinute: 100_000 } : {}),
      },
      heartbeat: { intervalMs: opts.heartbeatMs ?? 15_000 },
      log: { level: 'info' },
    }),
  );
  return file;
}

/** Starts `mcp-tunnel gateway` and resolves once it listens, with its URL and port. */
export async function spawnGateway(configFile: string, env: Record<string, string> = {}): Promise<{ proc: SpawnedProcess; url: string; port: number }> {
  const proc = spawnCli(['gateway', '--config', configFile], { cleanEnv: true, env: { MCP_TUNNEL_AUDIT: 'stderr', ...env } });
  const listening = await proc.waitForJson((e) => e.msg === 'gateway listening');
  const url = String(listening.url);
  return { proc, url, port: Number(new URL(url).port) };
}

/** Starts `mcp-tunnel proxy` to `ws://{hostPort}/tunnel/corp` with small reconnect timings. */
export function spawnProxy(hostPort: string, creds: Credentials, opts: { name: string; baseMs?: number; capMs?: number; heartbeatMs?: number; env?: Record<string, string> }): SpawnedProcess {
  return spawnCli(['proxy'], {
    cleanEnv: true,
    env: {
      MCP_TUNNEL_URL: `ws://${hostPort}/tunnel/corp`,
      MCP_TUNNEL_SECRET: creds.secret,
      MCP_TUNNEL_PROXY_NAME: opts.name,
      MCP_TUNNEL_RECONNECT_BASE_MS: String(opts.baseMs ?? 50),
      MCP_TUNNEL_RECONNECT_CAP_MS: String(opts.capMs ?? 500),
      MCP_TUNNEL_HEARTBEAT_MS: String(opts.heartbeatMs ?? 15_000),
      MCP_TUNNEL_AUDIT: 'stderr',
      ...opts.env,
    },
  });
}

/** Counts lines of `proc` (stdout JSON) with `msg`, from index `from` of its stdout. */
export function countMsg(proc: SpawnedProcess, msg: string, from = 0): number {
  return proc.stdout.slice(from).filter((l) => l.includes(`"msg":"${msg}"`)).length;
}

/** Short summary of outcomes by status/code, for failure messages and logs. */
export function summarize(outcomes: readonly CallOutcome[]): string {
  const by = new Map<string, number>();
  for (const o of outcomes) {
    const k = o.status === 200 ? '200' : `${o.status}${o.code ? ` ${o.code}` : ''}${o.error ? ` (${o.error})` : ''}`;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return [...by].map(([k, n]) => `${k}: ${n}`).join(', ');
}
