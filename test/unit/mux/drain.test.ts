import { Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { drain, type Drainable, type DrainResult } from '../../../src/mux';

/** A connection whose idleness the test controls. */
function fakeMux(): Drainable & { idle: Subject<void>; calls: string[]; activeStreams: number } {
  const idle = new Subject<void>();
  const calls: string[] = [];
  const m = {
    idle,
    calls,
    activeStreams: 2,
    isClosed: false,
    idle$: idle.asObservable(),
    goAway: (code: number, reason: string) => void calls.push(`goaway ${code} ${reason}`),
    close: (code: number, reason: string) => {
      calls.push(`close ${code} ${reason}`);
      m.isClosed = true;
    },
  };
  return m;
}

describe('drain (virtual time)', () => {
  const run = (idleAt: number | null, graceMs: number, lingerMs = 0): { results: Array<{ at: number; r: DrainResult }>; calls: Array<string> } => {
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    const results: Array<{ at: number; r: DrainResult }> = [];
    const mux = fakeMux();
    scheduler.run(() => {
      if (idleAt !== null)
        scheduler.schedule(() => {
          mux.activeStreams = 0;
          mux.idle.next();
        }, idleAt);
      drain(mux, { graceMs, lingerMs, goAway: { code: 0, reason: 'bye' }, close: { code: 4000, reason: 'done' }, scheduler }).subscribe((r) => results.push({ at: scheduler.now(), r }));
    });
    return { results, calls: mux.calls };
  };

  it('sends GOAWAY, then closes as soon as the connection is idle (no polling)', () => {
    const { results, calls } = run(1234, 30_000);
    expect(results).toEqual([{ at: 1234, r: { drained: true, cut: 0, closedByDrain: true } }]);
    expect(calls).toEqual(['goaway 0 bye', 'close 4000 done']);
  });

  it('cuts what is still open when the grace is over', () => {
    const { results } = run(null, 5000);
    expect(results).toEqual([{ at: 5000, r: { drained: false, cut: 2, closedByDrain: true } }]);
  });

  it('waits however long with an infinite grace, and lingers when asked', () => {
    expect(run(3_600_000, Infinity, 50).results).toEqual([{ at: 3_600_050, r: { drained: true, cut: 0, closedByDrain: true } }]);
  });
});
