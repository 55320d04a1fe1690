import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A fresh folder under the system's temp directory for each test of the enclosing `describe`
 * (created in `beforeEach`, removed with its contents in `afterEach`). Call it in the `describe`
 * body; `path` is the current test's folder.
 */
export function tempDirEach(prefix: string): { readonly path: string } {
  let current: string | null = null;
  beforeEach(async () => {
    current = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    if (current !== null) await rm(current, { recursive: true, force: true });
    current = null;
  });
  return {
    get path(): string {
      if (current === null) throw new Error('tempDirEach: no test is running');
      return current;
    },
  };
}
