import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { noteForwardedBytes, SCAVENGE_EVERY_BYTES, youngGcCount } from '../../src/young-gc';

/** Resolves at the next forced young-generation collection V8 reports. */
function nextForcedMinorGc(): Promise<void> {
  return new Promise<void>((resolve) => {
    const obs = new PerformanceObserver((list) => {
      const forced = list.getEntries().some((e) => {
        const d = (e as unknown as { detail?: { kind?: number; flags?: number } }).detail;
        return d?.kind === constants.NODE_PERFORMANCE_GC_MINOR && ((d.flags ?? 0) & constants.NODE_PERFORMANCE_GC_FLAGS_FORCED) !== 0;
      });
      if (forced) {
        obs.disconnect();
        resolve();
      }
    });
    obs.observe({ entryTypes: ['gc'] });
  });
}

describe('young-generation GC after forwarded bytes (D95)', () => {
  it('schedules one collection per mark crossed, none before it, and V8 runs it', async () => {
    const before = youngGcCount();
    noteForwardedBytes(SCAVENGE_EVERY_BYTES / 2);
    expect(youngGcCount()).toBe(before);
    const ran = nextForcedMinorGc();
    // Crossing the mark twice in one turn schedules one collection.
    noteForwardedBytes(SCAVENGE_EVERY_BYTES);
    noteForwardedBytes(SCAVENGE_EVERY_BYTES);
    expect(youngGcCount()).toBe(before + 1);
    await ran;
    // The count starts over after the collection.
    noteForwardedBytes(SCAVENGE_EVERY_BYTES - 1);
    expect(youngGcCount()).toBe(before + 1);
  });

  it('does not expose gc on the global object', () => {
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });

  it('uses the gc of a process started with --expose-gc and leaves that flag on', async () => {
    const built = path.resolve(__dirname, '../../dist/young-gc.js');
    if (!existsSync(built)) throw new Error(`${built} does not exist: run \`npm run build\` first`);
    const script = `
      const y = require(${JSON.stringify(built)});
      y.noteForwardedBytes(y.SCAVENGE_EVERY_BYTES);
      setImmediate(() => console.log(JSON.stringify({ count: y.youngGcCount(), newContextGc: require('node:vm').runInNewContext('typeof gc') })));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '-e', script]);
    expect(JSON.parse(stdout)).toEqual({ count: 1, newContextGc: 'function' });
  });
});
