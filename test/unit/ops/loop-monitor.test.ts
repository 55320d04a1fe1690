import { LoopMonitor, type LoopClock } from '../../../src/ops';

/** A clock whose time and single interval timer the test drives. */
function fakeClock(): LoopClock & { advance(ms: number): void; fire(): void; timers: number } {
  let now = 1000;
  let fn: (() => void) | undefined;
  return {
    now: () => now,
    setInterval: (f) => {
      fn = f;
      return 1;
    },
    clearInterval: () => (fn = undefined),
    advance: (ms) => (now += ms),
    fire: () => fn?.(),
    get timers() {
      return fn ? 1 : 0;
    },
  };
}

describe('LoopMonitor', () => {
  it('is healthy while the probe timer fires on time', () => {
    const clock = fakeClock();
    const m = new LoopMonitor({ intervalMs: 500, stallMs: 2000, holdMs: 10_000, clock });
    m.start();
    for (let i = 0; i < 10; i++) {
      clock.advance(510);
      clock.fire();
    }
    expect(m.status()).toEqual({ stalled: false, maxLagMs: 10 });
  });

  it('reports a stall after the loop recovers, for holdMs, then forgets it', () => {
    const clock = fakeClock();
    const m = new LoopMonitor({ intervalMs: 500, stallMs: 2000, holdMs: 10_000, clock });
    m.start();
    clock.advance(5500); // the loop was blocked for 5 s: the timer fires 5 s late
    clock.fire();
    expect(m.status()).toEqual({ stalled: true, maxLagMs: 5000 });
    for (let i = 0; i < 21; i++) {
      clock.advance(500);
      clock.fire();
    }
    expect(m.status().stalled).toBe(false);
    expect(m.status().maxLagMs).toBe(0);
  });

  it('counts an overdue timer as stalled even before it fires', () => {
    const clock = fakeClock();
    const m = new LoopMonitor({ intervalMs: 500, stallMs: 2000, clock });
    m.start();
    clock.advance(3000);
    expect(m.status()).toEqual({ stalled: true, maxLagMs: 2500 });
  });

  it('does not count a lag below stallMs as a stall', () => {
    const clock = fakeClock();
    const m = new LoopMonitor({ intervalMs: 500, stallMs: 2000, clock });
    m.start();
    clock.advance(2400);
    clock.fire();
    expect(m.status()).toEqual({ stalled: false, maxLagMs: 1900 });
  });

  it('start and stop are idempotent and stop releases the timer', () => {
    const clock = fakeClock();
    const m = new LoopMonitor({ clock });
    m.start();
    m.start();
    expect(clock.timers).toBe(1);
    m.stop();
    m.stop();
    expect(clock.timers).toBe(0);
    clock.advance(60_000);
    expect(m.status().stalled).toBe(false);
  });
});
