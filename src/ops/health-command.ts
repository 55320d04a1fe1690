import { DEFAULT_OPS_LISTEN } from './listen-address';
import { getOps, opsBaseUrl } from './ops-client';
import { OPS_CODES, OpsError } from './errors';

/** Where `mcp-tunnel health` writes, and the environment it reads `MCP_TUNNEL_OPS_LISTEN` from. */
export interface HealthIo {
  out(line: string): void;
  err(line: string): void;
  env: NodeJS.ProcessEnv;
}

/** Largest `/readyz` body read; anything longer counts as not ready. */
const MAX_BODY_BYTES = 64 * 1024;

export const HEALTH_USAGE = `Usage: mcp-tunnel health [--url http://HOST:PORT] [--timeout-ms N]
Asks the ops listener's /readyz; exits 0 when it answers 200 with "ready": true, 1 otherwise.
Default URL: http:// + MCP_TUNNEL_OPS_LISTEN, else http://${DEFAULT_OPS_LISTEN}. Default timeout 5000 ms.`;

/**
 * `mcp-tunnel health`: for container HEALTHCHECKs and scripts, no curl needed. Exit code 0 when ready,
 * 1 otherwise (not ready, unreachable, timed out, bad arguments); one line on stdout or stderr saying which.
 */
export async function runHealth(argv: readonly string[], io: HealthIo): Promise<number> {
  let target: { url: URL; timeoutMs: number };
  try {
    target = parseHealthArgs(argv, io.env);
  } catch (err) {
    io.err(`${(err as OpsError).code}: ${(err as Error).message}\n${HEALTH_USAGE}`);
    return 1;
  }
  try {
    const { status, body } = await getReadyz(target.url, target.timeoutMs);
    const ready = status === 200 && (JSON.parse(body) as { ready?: unknown }).ready === true;
    if (ready) {
      io.out(`ready (${target.url.origin})`);
      return 0;
    }
    io.err(`${OPS_CODES.healthNotReady}: not ready (${target.url.origin} answered ${status}: ${body.slice(0, 300)})`);
    return 1;
  } catch (err) {
    const code = err instanceof OpsError ? err.code : OPS_CODES.healthNotReady;
    io.err(`${code}: ${(err as Error).message}`);
    return 1;
  }
}

/** @throws OpsError `TUNNEL_HEALTH_USAGE` */
export function parseHealthArgs(argv: readonly string[], env: NodeJS.ProcessEnv): { url: URL; timeoutMs: number } {
  const usage = (m: string): OpsError => new OpsError(OPS_CODES.healthUsage, m);
  let urlText: string | undefined;
  let timeoutMs = 5000;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = inline ?? argv[++i];
    if (value === undefined) throw usage(`${flag} needs a value`);
    if (flag === '--url') urlText = value;
    else if (flag === '--timeout-ms' && /^\d{1,6}$/.test(value) && Number(value) > 0) timeoutMs = Number(value);
    else throw usage(`unknown or invalid argument ${JSON.stringify(argv[i - (inline === undefined ? 1 : 0)])}`);
  }
  const url = opsBaseUrl(urlText, env, OPS_CODES.healthUsage);
  return { url, timeoutMs };
}

function getReadyz(base: URL, timeoutMs: number): Promise<{ status: number; body: string }> {
  return getOps(base, '/readyz', { timeoutMs, maxBytes: MAX_BODY_BYTES, unreachableCode: OPS_CODES.healthUnreachable, tooLargeCode: OPS_CODES.healthNotReady });
}
