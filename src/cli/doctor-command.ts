import { ENV_PREFIX } from '../config/constants';
import { describeProxySchema } from '../config/proxy';
import type * as DoctorModule from '../doctor';
import type { UpstreamTarget } from '../doctor';
import { UsageError, parseFlags, type FlagSpec } from './args';
import { PROXY_FLAGS, loadProxyFromFlags } from './flags';
import { PROGRAM, renderCommandHelp } from './help';
import { EXIT } from './lifecycle';
import type { Command } from './types';

const DOCTOR_FLAGS: readonly FlagSpec[] = [
  ...PROXY_FLAGS.filter((f) => f.name !== 'ops-listen'),
  {
    name: 'upstream',
    type: 'string',
    valueName: 'NAME=URL,...',
    env: null,
    doc: "MCP servers to check reachability of, as the gateway's servers[] has them (the proxy only learns URLs per request).",
  },
  { name: 'timeout-ms', type: 'string', valueName: 'N', env: null, doc: 'Time allowed for each network step; default 5000.' },
];

/** `NAME=URL,NAME=URL` → targets. @throws UsageError */
export function parseUpstreams(text: string | undefined): UpstreamTarget[] {
  if (text === undefined || text.trim() === '') return [];
  return text.split(',').map((part) => {
    const m = /^\s*([A-Za-z0-9][A-Za-z0-9._-]{0,63})=(\S+)\s*$/.exec(part);
    if (m === null) throw new UsageError(`--upstream: ${JSON.stringify(part)} is not NAME=URL`);
    return { name: m[1]!, url: m[2]! };
  });
}

/** `mcp-tunnel doctor`: the proxy's settings checked end to end; exit 0 when every step passes, 1 otherwise. */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: "Check a proxy's settings end to end (config, DNS, TCP, TLS, upgrade, handshake, upstreams): exit 0 all passed, 1 not.",
  description:
    'Reads the proxy settings exactly as `proxy` does (same flags, environment and config file) and checks, step by step:\n' +
    'config, secret length, DNS, TCP, TLS chain and pins (wss://), the WebSocket upgrade, a real handshake with the\n' +
    'gateway (then closes), and one request to each --upstream server. Each step prints ✓ or ✗ with a hint; steps after\n' +
    'a failed one are shown as skipped. Exit 0 when every step passes, 1 otherwise, 2 on a usage error.',
  flags: DOCTOR_FLAGS,
  get options() {
    return describeProxySchema();
  },
  notes: [
    'Example:',
    `  ${ENV_PREFIX}URL=wss://gateway.example.com/tunnel/corp ${ENV_PREFIX}SECRET_FILE=/run/secrets/tunnel ${PROGRAM} doctor --upstream notes=http://notes.internal:8080/mcp`,
  ],

  async run(args, io) {
    const { help, values } = parseFlags(args, DOCTOR_FLAGS);
    if (help) {
      io.stdout.write(renderCommandHelp(doctorCommand));
      return EXIT.ok;
    }
    const upstreams = parseUpstreams(typeof values.upstream === 'string' ? values.upstream : undefined);
    const timeout = values['timeout-ms'];
    if (timeout !== undefined && !(typeof timeout === 'string' && /^\d{1,6}$/.test(timeout) && Number(timeout) > 0)) {
      throw new UsageError(`--timeout-ms must be a positive number of milliseconds, got ${JSON.stringify(timeout)}`);
    }
    // Loaded when the command runs, not with the CLI (D77).
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading, as in src/cli/runners.ts
    const { allPassed, renderSteps, runDoctor } = require('../doctor') as typeof DoctorModule;
    const results = await runDoctor({
      load: () => loadProxyFromFlags(values, io.env),
      upstreams,
      timeoutMs: timeout === undefined ? 5000 : Number(timeout),
      logger: io.createLogger({ level: 'silent', stream: 'stderr' }),
    });
    io.stdout.write(renderSteps(results));
    return allPassed(results) ? EXIT.ok : EXIT.failure;
  },
};
