import { randomBytes } from 'node:crypto';
import { loadGatewayConfig, loadProxyConfig, SECRET_ENV } from '../config';
import { describeError } from '../errors';
import { startGateway } from '../gateway';
import { componentLogger, F, type Logger } from '../log';
import { startProxy } from '../proxy';
import { showCallsThroughTunnel } from './demo-client';
import { DemoError } from './errors';
import { startSampleServer } from './sample-server';

/** Tunnel id the demo configures on the gateway and the proxy. */
export const DEMO_TUNNEL = 'demo';
/** Server name of the sample server on the gateway: the endpoint is `/mcp/sample`. */
export const DEMO_SERVER = 'sample';

/** How long the demo waits for the proxy's first authenticated connection. */
const PROXY_READY_TIMEOUT_MS = 10_000;

/** What `runDemo` needs from the CLI. */
export interface RunDemoOptions {
  /** Where the demo narrates (the terminal). */
  stdout: NodeJS.WritableStream;
  /** Parent logger for the components (the CLI sends it to stderr). */
  logger: Logger;
}

/** A running demo; the CLI closes it on SIGINT/SIGTERM. */
export interface RunningDemo {
  /** The gateway endpoint of the sample server, e.g. `http://127.0.0.1:PORT/mcp/sample`. */
  mcpUrl: string;
  /** The demo client's API key (random per run; sent as `Authorization: Bearer …`). */
  apiKey: string;
  /** Closes the proxy, the gateway and the sample server, in that order. Idempotent; never rejects. */
  close(): Promise<void>;
}

function timeout(ms: number, message: string): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/**
 * The `demo` command: starts the sample MCP server, a gateway and a proxy on 127.0.0.1 (free ports,
 * random tunnel secret and API key), calls every sample tool through gateway → tunnel → proxy with
 * the SDK client while narrating on `stdout`, then leaves everything running for the user to try
 * until `close()`.
 *
 * @throws DemoError (`TUNNEL_DEMO_FAILED`) when a part does not start or the demo call fails;
 *   everything already started is closed first.
 */
export async function runDemo(opts: RunDemoOptions): Promise<RunningDemo> {
  const log = componentLogger(opts.logger, 'demo');
  const out = (line = ''): void => {
    opts.stdout.write(`${line}\n`);
  };
  // Closers of what has started, run newest first.
  const started: Array<() => Promise<void>> = [];
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (let stop = started.pop(); stop !== undefined; stop = started.pop()) {
        await stop().catch((err: unknown) => log.warn({ [F.err]: describeError(err) }, 'demo part failed to close'));
      }
    })();
    return closing;
  };

  try {
    const sample = await startSampleServer({ logger: opts.logger });
    started.push(() => sample.close());

    const secret = randomBytes(32).toString('base64url');
    const apiKey = randomBytes(24).toString('base64url');
    const auditLogger = componentLogger(opts.logger, 'audit');
    // env: {} so that MCP_TUNNEL_* variables meant for a real gateway/proxy do not leak in.
    const gatewayConfig = loadGatewayConfig({
      env: {},
      overrides: {
        listen: { host: '127.0.0.1', port: 0 },
        tunnels: [{ id: DEMO_TUNNEL, secrets: [secret] }],
        servers: [{ name: DEMO_SERVER, tunnel: DEMO_TUNNEL, url: sample.url }],
        clients: [{ name: 'demo-client', apiKey, servers: [DEMO_SERVER] }],
      },
    });
    const gateway = await startGateway(gatewayConfig, { logger: opts.logger, auditLogger });
    started.push(() => gateway.close(0));

    const proxyConfig = loadProxyConfig({
      env: { [SECRET_ENV]: secret },
      overrides: { url: `${gateway.url.replace(/^http/, 'ws')}/tunnel/${DEMO_TUNNEL}`, name: 'demo-proxy' },
    });
    const proxy = startProxy(proxyConfig, { logger: opts.logger, auditLogger });
    started.push(() => proxy.close(0));
    const wait = timeout(PROXY_READY_TIMEOUT_MS, `the proxy did not connect within ${PROXY_READY_TIMEOUT_MS} ms`);
    try {
      await Promise.race([proxy.ready, wait.promise]);
    } finally {
      wait.cancel();
    }

    const mcpUrl = `${gateway.url}/mcp/${DEMO_SERVER}`;
    out('mcp-tunnel demo — everything on 127.0.0.1');
    out(`  internal MCP server  ${sample.url}   (the "private network" side)`);
    out(`  gateway              ${gateway.url}   (the hosted side)`);
    out(`  proxy                connected to ${proxyConfig.url}   (dials out; nothing listens inside)`);
    out(`  MCP endpoint         ${mcpUrl}`);
    out(`  API key              ${apiKey}   (random, for this run only)`);
    out();
    out('An MCP client (the official SDK) calls through gateway → tunnel → proxy → server:');
    await showCallsThroughTunnel(mcpUrl, apiKey, out);
    out();
    out('Try it yourself while this runs, e.g. with the MCP Inspector (Streamable HTTP) or curl:');
    out(`  curl -sN ${mcpUrl} \\`);
    out(`    -H 'Authorization: Bearer ${apiKey}' \\`);
    out(`    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \\`);
    out(
      `    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'`,
    );
    out();
    out('Point your own MCP client at (also as KEY=value lines for scripts):');
    out(`MCP_URL=${mcpUrl}`);
    out(`MCP_API_KEY=${apiKey}`);
    out();
    out('Press Ctrl-C to stop.');
    return { mcpUrl, apiKey, close };
  } catch (err) {
    await close();
    throw new DemoError(`demo failed: ${describeError(err)}`, err);
  }
}
