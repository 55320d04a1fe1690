import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOG_CHECK_DIR_ENV } from './helpers/log-check';

export default function globalSetup(): void {
  // Workers inherit the environment of the main process, so they all write into this folder.
  process.env[LOG_CHECK_DIR_ENV] = mkdtempSync(join(tmpdir(), 'mcp-tunnel-log-check-'));
}
