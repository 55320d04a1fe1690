import type * as GatewayConfigModule from '../config/gateway';
import { CONFIG_FILE_ENV, ENV_PREFIX } from '../config/constants';
import { CONFIG_INVALID } from '../config/errors';
import { hasCode } from '../errors';
// By file, not through '../ops': its index loads the metrics and prom-client, which a gateway or proxy
// started by this CLI needs only with an ops listener (decisions.md D34, D88).
import { OPS_CODES, OpsError } from '../ops/errors';
import { getOps, opsBaseUrl } from '../ops/ops-client';
import { parseStatusReport, renderStatusTable } from '../ops/status-table';
import { parseFlags, type FlagSpec } from './args';
import { PROGRAM, renderCommandHelp } from './help';
import { EXIT } from './lifecycle';
import type { CliIo, Command } from './types';

const STATUS_FLAGS: readonly FlagSpec[] = [
  { name: 'url', type: 'string', valueName: 'URL', env: null, doc: "The gateway's ops listener, http://HOST:PORT." },
  {
    name: 'config',
    type: 'string',
    valueName: 'FILE',
    env: CONFIG_FILE_ENV,
    doc: "Without --url: the gateway's config file, whose ops.listen is asked.",
  },
  { name: 'json', type: 'boolean', env: null, doc: 'Print the JSON answer instead of a table.' },
  { name: 'timeout-ms', type: 'string', valueName: 'N', env: null, doc: 'How long to wait for the answer; default 5000.' },
];

/** `mcp-tunnel status`: the gateway's tunnels and connected proxies, from its ops listener's `GET /status`. */
export const statusCommand: Command = {
  name: 'status',
  summary: "Show a running gateway's tunnels and connected proxies (from its ops listener).",
  description:
    "Asks the gateway's ops listener (GET /status) and prints each tunnel with its connected proxies: address,\n" +
    'connection age, secret in use (its position in tunnels[].secrets), requests in flight, state.\n' +
    `URL: --url, else the ops.listen of --config / ${CONFIG_FILE_ENV}, else http:// + ${ENV_PREFIX}OPS_LISTEN, else http://127.0.0.1:9464.\n` +
    'Exit 0 when the listener answered, 1 when it could not be reached or answered something else, 2 on a usage error.',
  flags: STATUS_FLAGS,
  options: [],
  notes: [`Example: ${PROGRAM} status --url http://127.0.0.1:9464`, `         ${PROGRAM} status --config /etc/mcp-tunnel/gateway.json --json`],

  async run(args, io) {
    const { help, values } = parseFlags(args, STATUS_FLAGS);
    if (help) {
      io.stdout.write(renderCommandHelp(statusCommand));
      return EXIT.ok;
    }
    let target: { url: URL; timeoutMs: number };
    try {
      target = statusTarget(values, io);
    } catch (err) {
      if (!(err instanceof OpsError) && !hasCode(err, CONFIG_INVALID)) throw err;
      io.stderr.write(`${PROGRAM} status: ${(err as { code: string }).code}: ${(err as Error).message}\n`);
      return EXIT.usage;
    }
    try {
      const { status, body } = await getOps(target.url, '/status', {
        timeoutMs: target.timeoutMs,
        unreachableCode: OPS_CODES.statusUnreachable,
        tooLargeCode: OPS_CODES.statusBadAnswer,
      });
      if (status !== 200) throw new OpsError(OPS_CODES.statusBadAnswer, `${target.url.origin}/status answered ${status}: ${body.slice(0, 200)}`);
      const report = parseStatusReport(body);
      io.stdout.write(values.json === true ? `${JSON.stringify(report, null, 2)}\n` : renderStatusTable(report));
      return EXIT.ok;
    } catch (err) {
      if (!(err instanceof OpsError)) throw err;
      io.stderr.write(`${PROGRAM} status: ${err.code}: ${err.message}\n`);
      return EXIT.failure;
    }
  },
};

/** @throws OpsError `TUNNEL_STATUS_USAGE`; ConfigError for a bad config file */
function statusTarget(values: Record<string, string | boolean | undefined>, io: CliIo): { url: URL; timeoutMs: number } {
  const timeout = values['timeout-ms'];
  if (timeout !== undefined && !(typeof timeout === 'string' && /^\d{1,6}$/.test(timeout) && Number(timeout) > 0)) {
    throw new OpsError(OPS_CODES.statusUsage, `--timeout-ms must be a positive number of milliseconds, got ${JSON.stringify(timeout)}`);
  }
  const url = typeof values.url === 'string' ? values.url : undefined;
  const file = typeof values.config === 'string' ? values.config : io.env[CONFIG_FILE_ENV] || undefined;
  let listen: string | undefined;
  if (url === undefined && file !== undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the gateway's configuration code loads only for `status --config` (D88)
    const { loadGatewayConfig } = require('../config/gateway') as typeof GatewayConfigModule;
    const config = loadGatewayConfig({ file, env: io.env, overrides: {} });
    if (config.ops?.listen == null) {
      throw new OpsError(OPS_CODES.statusUsage, `${file} has no ops.listen (the gateway runs no ops listener): set it, or give --url`);
    }
    listen = config.ops.listen;
  }
  return { url: opsBaseUrl(url, io.env, OPS_CODES.statusUsage, listen), timeoutMs: timeout === undefined ? 5000 : Number(timeout) };
}
