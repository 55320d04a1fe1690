import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { TestEnvironment } from 'jest-environment-node';
import { TimerTracker, countHandles, describeNewHandles, handleObjects, handlesAdded, type HandleCounts } from './helpers/open-handles';

/** How long a test file's handles may take to finish closing after its last `afterAll`. */
const SETTLE_MS = 2000;
/** Polls that only yield a turn of the event loop before polling on a timer. */
const QUICK_POLLS = 20;
const POLL_MS = 10;

/**
 * jest's node environment, plus a check when a test file ends: every server, socket, child process
 * and ref'd timer the file opened must be closed by then (after a short settle, for closes still in
 * progress). Otherwise the file fails, naming what was left open and where the timers were created.
 *
 * Why: one handle left open keeps the jest worker alive after its last file, and jest force-kills
 * it ("A worker process has failed to exit gracefully"); the message does not say which file leaked.
 * jest's own `detectOpenHandles` runs everything in one process and slows the suite; this check
 * costs a few event-loop turns per file.
 */
export default class LeakCheckEnvironment extends TestEnvironment {
  private readonly timers: TimerTracker;
  private handlesBefore: HandleCounts = new Map();
  private objectsBefore = new Set<unknown>();

  constructor(...args: ConstructorParameters<typeof TestEnvironment>) {
    super(...args);
    // The test's code (src included) runs in this global; jest's own timers live outside it.
    this.timers = new TimerTracker(this.global);
  }

  override async setup(): Promise<void> {
    await super.setup();
    this.handlesBefore = countHandles();
    this.objectsBefore = handleObjects();
  }

  override async teardown(): Promise<void> {
    const left = await this.leftOpen();
    await super.teardown();
    if (left.length > 0) {
      throw new Error(
        `the test file left these open after its last afterAll/afterEach, which keeps the jest worker from exiting:\n  ${left.join('\n  ')}\n` +
          'close them in afterEach/afterAll (test/helpers/close-all.ts collects them)',
      );
    }
  }

  /** What is still open once closes in progress have had {@link SETTLE_MS} to finish; empty if nothing. */
  private async leftOpen(): Promise<string[]> {
    const deadline = Date.now() + SETTLE_MS;
    for (let poll = 0; ; poll++) {
      const handles = handlesAdded(this.handlesBefore, countHandles());
      const timers = this.timers.pending();
      if (handles.length === 0 && timers.length === 0) return [];
      if (Date.now() >= deadline) {
        return [
          ...(handles.length > 0 ? [`handles: ${handles.join(', ')}`, ...describeNewHandles(this.objectsBefore).map((d) => `  ${d}`)] : []),
          ...timers.map((t) => `timer: ${t}`),
        ];
      }
      await (poll < QUICK_POLLS ? nextTurn() : sleep(POLL_MS));
    }
  }
}
