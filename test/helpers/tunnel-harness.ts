import { recordForLogCheck } from './log-check';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { GatewayConfig, ProxyConfig, UpstreamTlsConfig } from '../../src/config/types';
import { startGateway, type RunningGateway } from '../../src/gateway';
import { startProxy, type RunningProxy } from '../../src/proxy';
import type { Logger } from '../../src/log';
import { REDACT_PATHS } from '../../src/log';
import type { Metrics } from '../../src/ops';

/** Captures log lines in memory (JSON objects) so tests can assert on them. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  readonly logger: Logger;
  constructor(level = 'debug') {
    const sink = new Writable({
      write: (chunk: Buffer, _e, cb) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line) continue;
          this.raw.push(line);
          try {
            this.lines.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            /* not JSON */
          }
        }
        cb();
      },
    });
    this.logger = pino({ level, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, sink);
  }
  find(pred: (l: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
    return this.lines.find(pred);
  }
}

export const noTls: UpstreamTlsConfig = { cert: null, key: null, ca: null, rejectUnauthorized: true, servername: null };

export interface HarnessOptions {
  servers: Array<{ name: string; url: string }>;
  gateway?: (c: GatewayConfig) => void;
  proxy?: (c: ProxyConfig) => void;
  /** Start the proxy (default true). */
  startProxy?: boolean;
  /** Metrics the gateway and the proxies feed (as with an ops listener); none by default. */
  metrics?: { gateway?: Metrics; proxy?: Metrics };
}

export interface Harness {
  gateway: RunningGateway;
  proxy: RunningProxy | null;
  gatewayConfig: GatewayConfig;
  proxyConfig: ProxyConfig;
  apiKey: string;
  secret: string;
  logs: LogCapture;
  gatewayAudit: LogCapture;
  proxyAudit: LogCapture;
  mcpUrl(server: string): URL;
  /** Starts (another) proxy replica with the same config. */
  addProxy(mutate?: (c: ProxyConfig) => void): Promise<RunningProxy>;
  close(): Promise<void>;
}

/** Gateway + proxy in this process, on loopback port 0, configured in code. */
export async function startHarness(opts: HarnessOptions): Promise<Harness> {
  const secret = randomBytes(32).toString('base64url');
  const apiKey = randomBytes(24).toString('base64url');
  const logs = new LogCapture();
  const gatewayAudit = new LogCapture('info');
  const proxyAudit = new LogCapture('info');
  const gatewayConfig: GatewayConfig = {
    listen: { host: '127.0.0.1', port: 0 },
    tls: null,
    tunnels: [{ id: 'corp', secrets: [secret] }],
    servers: opts.servers.map((s) => ({ name: s.name, tunnel: 'corp', url: s.url })),
    clients: [{ name: 'alice', apiKey, servers: ['*'] }],
    limits: { maxRequestBodyBytes: 64 * 1024 * 1024, connectWaitMs: 2000, handshakeTimeoutMs: 5000, maxStreamsPerConnection: 1024, maxHeaderBytes: 65536, maxUnauthenticatedPerAddress: 16, maxUnauthenticated: 256, connectAttemptsPerMinute: 120 },
    flow: { streamWindow: 262144, connectionWindow: 16 * 1024 * 1024, maxFrameSize: 65536 },
    heartbeat: { intervalMs: 15000 },
    rotation: { graceMs: 60000 },
    log: { level: 'debug' },
    audit: { destination: 'stdout', sync: true, hmacKeyFile: null, signingKeyFile: null, checkpoint: { every: 1000, intervalMs: 60000 } },
  };
  opts.gateway?.(gatewayConfig);
  const gateway = await startGateway(gatewayConfig, { logger: logs.logger, auditLogger: gatewayAudit.logger, metrics: opts.metrics?.gateway });
  const proxyConfig: ProxyConfig = {
    url: `${gateway.url.replace(/^http/, 'ws')}/tunnel/corp`,
    tunnelId: 'corp',
    secret,
    secretFile: null,
    caFile: null,
    pins: [],
    requireChannelBinding: false,
    allowInsecure: false,
    name: 'test-proxy',
    reconnect: { baseMs: 50, capMs: 1000, stableMs: 10000 },
    // One connection by default: many tests pin "the proxy's connection"; set more where it matters.
    connections: 1,
    drainGraceMs: 30000,
    maxConnectionAgeMs: 0,
    heartbeat: { intervalMs: 15000 },
    limits: { maxStreams: 1024, maxHeaderBytes: 65536 },
    flow: { streamWindow: 262144, connectionWindow: 16 * 1024 * 1024, maxFrameSize: 65536 },
    upstream: { tls: noTls, servers: {}, headersTimeoutMs: 300000, connectTimeoutMs: 5000, connectionsPerOrigin: 128, allow: [] },
    log: { level: 'debug' },
    audit: { destination: 'stdout', sync: true, hmacKeyFile: null, signingKeyFile: null, checkpoint: { every: 1000, intervalMs: 60000 } },
  };
  opts.proxy?.(proxyConfig);
  const proxies: RunningProxy[] = [];
  const addProxy = async (mutate?: (c: ProxyConfig) => void): Promise<RunningProxy> => {
    const c = structuredClone(proxyConfig);
    mutate?.(c);
    const p = startProxy(c, { logger: logs.logger, auditLogger: proxyAudit.logger, metrics: opts.metrics?.proxy });
    proxies.push(p);
    await p.ready;
    return p;
  };
  const proxy = opts.startProxy === false ? null : await addProxy();
  return {
    gateway,
    proxy,
    gatewayConfig,
    proxyConfig,
    apiKey,
    secret,
    logs,
    gatewayAudit,
    proxyAudit,
    mcpUrl: (server) => new URL(`${gateway.url}/mcp/${server}`),
    addProxy,
    async close() {
      await Promise.all(proxies.map((p) => p.close(0)));
      await gateway.close(0);
      const configured = [
        secret,
        apiKey,
        proxyConfig.secret,
        ...gatewayConfig.tunnels.flatMap((t) => t.secrets),
        ...gatewayConfig.clients.flatMap((c) => (c.apiKey ? [c.apiKey] : [])),
      ];
      recordForLogCheck(configured, [...logs.raw, ...gatewayAudit.raw, ...proxyAudit.raw]);
    },
  };
}
