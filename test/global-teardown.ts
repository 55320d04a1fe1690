import { createReadStream, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LOG_CHECK_DIR_ENV } from './helpers/log-check';

/** Fails the run if any log or audit line captured by any harness contains a configured secret. */
export default async function globalTeardown(): Promise<void> {
  const dir = process.env[LOG_CHECK_DIR_ENV];
  if (!dir) return;
  let lines = 0;
  const secrets = new Set<string>();
  const hits: string[] = [];
  try {
    for (const file of readdirSync(dir)) {
      for await (const row of createInterface({ input: createReadStream(join(dir, file)), crlfDelay: Infinity })) {
        const entry = JSON.parse(row) as { secrets: string[]; lines: string[] };
        for (const s of entry.secrets) secrets.add(s);
        for (const line of entry.lines) {
          lines++;
          for (const s of entry.secrets) if (line.includes(s)) hits.push(`${s.slice(0, 4)}…: ${line.slice(0, 200)}`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`\nlog secrets check: ${lines} log/audit lines from the in-process harnesses, ${secrets.size} secrets and API keys, ${hits.length} hits\n`);
  if (hits.length > 0) throw new Error(`secrets found in log lines:\n${hits.slice(0, 20).join('\n')}`);
}
