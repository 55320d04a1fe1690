/**
 * The tunnel under test: the real CLI (`dist/cli/main.js gateway …` and `… proxy`) as two child
 * processes, configured and launched as in production (the shipped allocator settings,
 * ./shipped-env.ts): info logs, the audit trail hash-chained into a file on each side with HMAC
 * checkpoints. The gateway listens on a fixed free port so that a restarted gateway is
 * found again by the proxy.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type Procs, type Started } from './procs';
import { MALLOC_ENV } from './shipped-env';
import { untilServed, type Target } from './target';

const CLI = join(__dirname, '..', 'cli', 'main.js');
const GATEWAY_READY = /gateway listening/;
const PROXY_READY = /tunnel connected and authenticated/;

export interface TunnelOptions {
  procs: Procs;
  upstreamOrigin: string;
  /** Scratch folder (config, keys, audit files). */
  dir: string;
  /** Node flags for the gateway and the proxy (e.g. `--cpu-prof`; `npm run bench:cpu`). */
  nodeArgs?: readonly string[];
  /** More servers on the tunnel: name → upstream URL (`npm run bench:record`'s big SSE stream). */
  servers?: Readonly<Record<string, string>>;
  /**
   * Recording on both sides (`npm run bench:record`): the gateway's `record.file` and the proxy's
   * `MCP_TUNNEL_RECORD_FILE`, of `servers` only (`record.servers`, `MCP_TUNNEL_RECORD_SERVERS`; all
   * when absent); `proxyServers`, when set, is the proxy's list instead.
   */
  record?: { gateway: string; proxy: string; servers?: readonly string[]; proxyServers?: readonly string[] };
}

/** The tunnel as a {@link Target}, plus extra proxies for the per-connection memory figure. */
export interface TunnelTarget extends Target {
  /** Starts another proxy on the same tunnel with `connections` tunnel connections; resolves once all are up. */
  extraProxy(connections: number): Promise<Started>;
}

/**
 * Writes the bench gateway's config (tunnel `bench`, its three servers and any `extra` ones, one
 * client allowed all of them, `record` when set) to `file`; returns `file`.
 */
export function writeBenchGatewayConfig(
  file: string,
  c: { port: number; secret: string; apiKey: string; upstreamOrigin: string; extra?: Readonly<Record<string, string>>; record?: { file: string; servers?: readonly string[] } },
): string {
  // The gateway routes only to configured URLs (decisions.md D8): each upstream route is a server.
  const servers = [
    { name: 'bench', tunnel: 'bench', url: `${c.upstreamOrigin}/mcp` },
    { name: 'bench-bytes', tunnel: 'bench', url: `${c.upstreamOrigin}/bytes` },
    { name: 'bench-sse', tunnel: 'bench', url: `${c.upstreamOrigin}/sse` },
    ...Object.entries(c.extra ?? {}).map(([name, url]) => ({ name, tunnel: 'bench', url })),
  ];
  writeFileSync(
    file,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: c.port },
      tunnels: [{ id: 'bench', secrets: [c.secret] }],
      servers,
      clients: [{ name: 'bench', apiKey: c.apiKey, servers: servers.map((s) => s.name) }],
      ...(c.record === undefined ? {} : { record: c.record }),
    }),
  );
  return file;
}

export async function startTunnel(opts: TunnelOptions): Promise<TunnelTarget> {
  const { procs, dir } = opts;
  const secret = randomBytes(32).toString('base64url');
  const apiKey = randomBytes(24).toString('base64url');
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const cfg = writeBenchGatewayConfig(join(dir, 'gateway.json'), {
    port,
    secret,
    apiKey,
    upstreamOrigin: opts.upstreamOrigin,
    ...(opts.servers === undefined ? {} : { extra: opts.servers }),
    ...(opts.record === undefined ? {} : { record: { file: opts.record.gateway, ...(opts.record.servers ? { servers: opts.record.servers } : {}) } }),
  });
  const hmacKey = join(dir, 'audit-hmac.key');
  writeFileSync(hmacKey, randomBytes(32).toString('base64url'), { mode: 0o600 });
  const common = { ...MALLOC_ENV, MCP_TUNNEL_LOG_LEVEL: 'info', MCP_TUNNEL_AUDIT_HMAC_KEY_FILE: hmacKey };
  // The trails in their own folder, as in production (/var/log, not next to the config in /etc): the
  // gateway watches its config's folder, and every audit line written there would be an event.
  const gatewayEnv = { ...common, MCP_TUNNEL_AUDIT: join(dir, 'log', 'audit-gateway.log') };
  const proxyRecorded = opts.record?.proxyServers ?? opts.record?.servers;
  const proxyEnv = {
    ...common,
    MCP_TUNNEL_AUDIT: join(dir, 'log', 'audit-proxy.log'),
    MCP_TUNNEL_URL: `ws://127.0.0.1:${port}/tunnel/bench`,
    MCP_TUNNEL_SECRET: secret,
    ...(opts.record === undefined ? {} : { MCP_TUNNEL_RECORD_FILE: opts.record.proxy }),
    ...(proxyRecorded === undefined ? {} : { MCP_TUNNEL_RECORD_SERVERS: proxyRecorded.join(',') }),
  };

  const nodeArgs = opts.nodeArgs ?? [];
  const startGateway = (ready: RegExp | null): Promise<Started> =>
    procs.start('gateway', process.execPath, [...nodeArgs, CLI, 'gateway', '--config', cfg], { env: gatewayEnv, ready });
  const startProxy = (ready: RegExp | null, connections = 2): Promise<Started> =>
    procs.start('proxy', process.execPath, [...nodeArgs, CLI, 'proxy'], {
      env: { ...proxyEnv, MCP_TUNNEL_CONNECTIONS: String(connections) },
      ready,
      readyCount: connections,
    });

  let gateway = await startGateway(GATEWAY_READY);
  let proxy = await startProxy(PROXY_READY);

  const target: TunnelTarget = {
    name: 'tunnel',
    origin,
    postPath: '/mcp/bench',
    bytesPath: (n) => `/mcp/bench-bytes?n=${n}`,
    ssePath: (events, intervalMs) => `/mcp/bench-sse?events=${events}&intervalMs=${intervalMs}`,
    headers: { authorization: `Bearer ${apiKey}` },
    pids: () => ({ gateway: [gateway.pid], proxy: [proxy.pid] }),
    async restartAgent() {
      await procs.stop(proxy);
      const t0 = process.hrtime.bigint();
      proxy = await startProxy(null);
      return untilServed(target, t0);
    },
    async restartGateway() {
      await procs.stop(gateway);
      const t0 = process.hrtime.bigint();
      gateway = await startGateway(null);
      return untilServed(target, t0);
    },
    extraProxy: (connections) => startProxy(PROXY_READY, connections),
    async close() {
      await procs.stop(proxy);
      await procs.stop(gateway);
    },
  };
  return target;
}
