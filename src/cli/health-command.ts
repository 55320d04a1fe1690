import { HEALTH_USAGE, runHealth } from '../ops/health-command';
import { ENV_PREFIX } from '../config/constants';
import { PROGRAM, renderCommandHelp } from './help';
import { EXIT } from './lifecycle';
import type { Command } from './types';

/** `mcp-tunnel health [--url http://HOST:PORT]`: asks a running gateway's or proxy's `/readyz`; exit 0 ready, 1 not. */
export const healthCommand: Command = {
  name: 'health',
  summary: 'Ask a running gateway or proxy (its ops listener) whether it is ready: exit 0 ready, 1 not.',
  usage: `${PROGRAM} health [--url http://HOST:PORT] [--timeout-ms N]`,
  description: HEALTH_USAGE.split('\n').slice(1).join('\n'),
  flags: [
    { name: 'url', type: 'string', valueName: 'URL', env: null, doc: `The ops listener; default http:// + ${ENV_PREFIX}OPS_LISTEN, else http://127.0.0.1:9464.` },
    { name: 'timeout-ms', type: 'string', valueName: 'N', env: null, doc: 'How long to wait for the answer; default 5000.' },
  ],
  options: [],
  notes: [`Example (container HEALTHCHECK): ${PROGRAM} health --url http://127.0.0.1:9464`],

  async run(args, io) {
    if (args.includes('-h') || args.includes('--help')) {
      io.stdout.write(renderCommandHelp(healthCommand));
      return EXIT.ok;
    }
    return runHealth(args, {
      out: (line) => io.stdout.write(`${line}\n`),
      err: (line) => io.stderr.write(`${line}\n`),
      env: io.env,
    });
  },
};
