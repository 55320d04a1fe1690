import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { StreamableUpstreamHandle } from '../fixtures/mcp-upstream';
import { stopAllProcesses } from './process';

/** What a test that runs the built CLI against a real upstream works with (see {@link cliTestEach}). */
export interface CliTest {
  /** The current test's fresh folder. */
  readonly dir: string;
  /** The upstream the test started, if any: closed after the test. */
  upstream: StreamableUpstreamHandle | null;
}

/**
 * The hooks of a test file that runs the built CLI as child processes against a real upstream: a
 * fresh folder under the temp directory for each test, and after it, in this order, every CLI child
 * stopped, the upstream closed and the folder removed (a child may still write there while it stops).
 * Call it in the file's or a `describe`'s body.
 */
export function cliTestEach(prefix: string): CliTest {
  let dir: string | null = null;
  const t: CliTest = {
    get dir(): string {
      if (dir === null) throw new Error('cliTestEach: no test is running');
      return dir;
    },
    upstream: null,
  };
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterEach(async () => {
    await stopAllProcesses();
    await t.upstream?.close();
    t.upstream = null;
    if (dir !== null) fs.rmSync(dir, { recursive: true, force: true });
    dir = null;
  });
  return t;
}
