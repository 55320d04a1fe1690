import type { StreamableUpstreamHandle } from '../fixtures/mcp-upstream';
import { stopAllProcesses } from './process';
import { tempDirEach } from './temp-dir';

/** What a test that runs the built CLI against a real upstream works with (see {@link cliTestEach}). */
export interface CliTest {
  /** The current test's fresh folder. */
  readonly dir: string;
  /** The upstream the test started, if any: closed after the test. */
  upstream: StreamableUpstreamHandle | null;
}

/**
 * The hooks of a test file that runs the built CLI as child processes against a real upstream: a
 * fresh folder under the temp directory for each test ({@link tempDirEach}), and after it, in this
 * order, every CLI child stopped, the upstream closed and the folder removed (a child may still
 * write there while it stops). Call it in the file's or a `describe`'s body.
 */
export function cliTestEach(prefix: string): CliTest {
  // Declared before tempDirEach's hooks: jest (circus) runs afterEach hooks in declaration order.
  afterEach(async () => {
    await stopAllProcesses();
    await t.upstream?.close();
    t.upstream = null;
  });
  const tmp = tempDirEach(prefix);
  const t: CliTest = {
    get dir(): string {
      return tmp.path;
    },
    upstream: null,
  };
  return t;
}
