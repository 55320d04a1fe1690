import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Suite-wide "no secret in any log line" check (issue 4): every in-process gateway/proxy harness
 * records the secrets and API keys it configured and every log and audit line it captured; the
 * jest global teardown (test/global-teardown.ts) fails the run if any line contains any secret.
 */
export const LOG_CHECK_DIR_ENV = 'MCP_TUNNEL_LOG_CHECK_DIR';

export function recordForLogCheck(secrets: Iterable<string>, lines: readonly string[]): void {
  const dir = process.env[LOG_CHECK_DIR_ENV];
  if (!dir) return;
  const list = [...new Set(secrets)].filter((s) => s.length >= 8);
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${JSON.stringify({ secrets: list, lines })}\n`);
}
