import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** Name and version the sample server reports in its `initialize` result. */
export const SAMPLE_SERVER_INFO = { name: 'mcp-tunnel-sample', version: '0.1.0' } as const;

/** Header names `whoami` leaves out of its answer: cookies are session secrets of another origin. */
const HIDDEN_HEADERS: ReadonlySet<string> = new Set(['cookie', 'set-cookie']);

/**
 * The request headers `whoami` reports: every header the server received, names lower-cased,
 * except cookies. `Authorization` is deliberately kept, so the demo can show that the gateway did
 * not pass the client's credential through the tunnel.
 */
export function visibleHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || HIDDEN_HEADERS.has(lower)) continue;
    out[lower] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/**
 * Resolves `true` after `ms`, or `false` as soon as `signal` aborts. The timer is cleared on abort,
 * so a cancelled call leaves no handle behind.
 */
export function delay(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function text(value: string): CallToolResult {
  return { content: [{ type: 'text', text: value }] };
}

/**
 * A fresh `McpServer` with the demo tools: `echo`, `add`, `countdown` (progress notifications,
 * cancellable) and `whoami` (the HTTP request headers the server saw). One instance serves exactly
 * one session; the SDK does not allow a server to be connected to two transports.
 */
export function createSampleMcpServer(): McpServer {
  const server = new McpServer(SAMPLE_SERVER_INFO, { capabilities: { logging: {} } });

  server.registerTool(
    'echo',
    { description: 'Returns the given text unchanged.', inputSchema: { text: z.string() } },
    ({ text: value }) => text(value),
  );

  server.registerTool(
    'add',
    {
      description: 'Adds two numbers.',
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { sum: z.number() },
    },
    ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }], structuredContent: { sum: a + b } }),
  );

  server.registerTool(
    'countdown',
    {
      description:
        'Counts down from n, one step every delayMs milliseconds. Sends notifications/progress per step when ' +
        'the caller asked for progress; stops when the call is cancelled.',
      inputSchema: { n: z.number().int().min(1).max(1000), delayMs: z.number().int().min(0).max(60_000).optional() },
    },
    async ({ n, delayMs }, extra) => {
      const progressToken = extra._meta?.progressToken;
      for (let step = 1; step <= n; step++) {
        if (!(await delay(delayMs ?? 200, extra.signal))) {
          return { ...text(`cancelled after ${step - 1} of ${n} steps`), isError: true };
        }
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: step, total: n, message: `${n - step} to go` },
          });
        }
      }
      return text(`countdown from ${n} finished`);
    },
  );

  server.registerTool(
    'whoami',
    {
      description:
        'Returns the HTTP request headers this server received for the call (cookies left out). Shows what the ' +
        'tunnel forwarded, and that the client credential for the gateway was not among it.',
      inputSchema: {},
      outputSchema: { headers: z.record(z.string(), z.string()) },
    },
    (_args, extra) => {
      const headers = visibleHeaders(extra.requestInfo?.headers ?? {});
      return { content: [{ type: 'text', text: JSON.stringify({ headers }, null, 2) }], structuredContent: { headers } };
    },
  );

  return server;
}
