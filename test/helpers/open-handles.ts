/**
 * What a test file leaves running when it ends: libuv handles (servers, sockets, child processes,
 * pipes…) and ref'd timers. Used by `test/leak-check-environment.ts`, which fails a test file that
 * leaves any of them behind, because one such handle keeps the jest worker alive after the run and
 * jest then force-kills it ("A worker process has failed to exit gracefully").
 *
 * Handles are counted with `process.getActiveResourcesInfo()`, which lists only ref'd ones (an
 * `unref()`ed keep-alive socket does not hold a process open and is not reported). Timers are
 * tracked where the test's code creates them (the test environment's global `setTimeout` /
 * `setInterval`), so jest's own timers in the same process never count.
 */

/** Resource names that are requests in flight (they finish on their own), not handles. */
const REQUEST = /Req|^(ConnectWrap|ShutdownWrap|WriteWrap|SendWrap|QueryWrap)$/;
/** Timers and immediates are tracked by {@link TimerTracker} instead. */
const TIMER = /^(Timeout|Immediate)$/;

/** Ref'd handles by libuv type, e.g. `{ TCPServerWrap: 1, TCPSocketWrap: 2 }`. */
export type HandleCounts = Map<string, number>;

/** The ref'd libuv handles open now, counted by type. */
export function countHandles(): HandleCounts {
  const counts: HandleCounts = new Map();
  for (const name of process.getActiveResourcesInfo()) {
    if (REQUEST.test(name) || TIMER.test(name)) continue;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** Handle types with more open now than in `before` (a handle closed meanwhile does not offset a new one of another type). */
export function handlesAdded(before: HandleCounts, now: HandleCounts): string[] {
  const added: string[] = [];
  for (const [name, n] of now) {
    const extra = n - (before.get(name) ?? 0);
    if (extra > 0) added.push(extra === 1 ? name : `${name} ×${extra}`);
  }
  return added;
}

/** A short description of a handle object for the report (address, peer, command line). */
function describeHandle(h: unknown): string | null {
  if (typeof h !== 'object' || h === null) return null;
  const o = h as Record<string, unknown> & { address?: () => unknown };
  const kind = o.constructor?.name ?? 'handle';
  if (typeof o.spawnargs === 'object' && Array.isArray(o.spawnargs)) return `${kind} pid ${String(o.pid)}: ${o.spawnargs.join(' ').slice(0, 160)}`;
  if (typeof o.listening === 'boolean' && typeof o.address === 'function') return `${kind} listening on ${JSON.stringify(o.address())}`;
  if (typeof o.remotePort === 'number' || typeof o.localPort === 'number') return `${kind} ${String(o.localAddress)}:${String(o.localPort)} -> ${String(o.remoteAddress)}:${String(o.remotePort)}`;
  return null;
}

/**
 * The handle objects open now (`process._getActiveHandles()`, undocumented but stable since Node
 * 0.x); only to name, in a report, the handles a test added. Empty when the function is missing.
 */
export function handleObjects(): Set<unknown> {
  const fn = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles;
  return new Set(typeof fn === 'function' ? fn.call(process) : []);
}

/** Descriptions of the handle objects open now that were not open in `before`. */
export function describeNewHandles(before: Set<unknown>): string[] {
  const out: string[] = [];
  for (const h of handleObjects()) {
    if (before.has(h)) continue;
    const d = describeHandle(h);
    if (d !== null) out.push(d);
  }
  return out;
}

interface TimerRecord {
  kind: 'setTimeout' | 'setInterval';
  ms: unknown;
  /** Where it was created; `stack` is only formatted when reported. */
  site: Error;
}

/** The parts of a Node timer the tracker reads. */
interface NodeTimer {
  hasRef(): boolean;
  /** Set by Node when the timer fired (one-shot) or was cleared by any means. */
  _destroyed?: boolean;
}

type TimerGlobals = Record<'setTimeout' | 'setInterval', unknown>;

/** Forget fired and cleared timers every this many creations, so the tracker holds no garbage. */
const SWEEP_EVERY = 1024;

/**
 * Wraps a global object's `setTimeout` / `setInterval` to remember every timer created through it,
 * so that the ones still pending and ref'd can be reported with where they were made. Behaviour is
 * unchanged: same arguments, same return value, same properties (e.g. `util.promisify.custom`).
 */
export class TimerTracker {
  private readonly live = new Map<NodeTimer, TimerRecord>();
  private created = 0;

  constructor(g: TimerGlobals) {
    for (const kind of ['setTimeout', 'setInterval'] as const) {
      const original = g[kind] as (...args: unknown[]) => NodeTimer;
      const track = (timer: NodeTimer, ms: unknown): void => {
        this.live.set(timer, { kind, ms, site: new Error(kind) });
        if (++this.created % SWEEP_EVERY === 0) this.sweep();
      };
      const wrapped = function (this: unknown, ...args: unknown[]): NodeTimer {
        const timer = original.apply(this, args);
        if (timer !== null && typeof timer === 'object') track(timer, args[1]);
        return timer;
      };
      Object.defineProperties(wrapped, Object.getOwnPropertyDescriptors(original));
      g[kind] = wrapped;
    }
  }

  private sweep(): void {
    for (const timer of this.live.keys()) if (timer._destroyed === true) this.live.delete(timer);
  }

  /** Ref'd timers created through the wrapped globals that have neither fired nor been cleared. */
  pending(): string[] {
    this.sweep();
    const out: string[] = [];
    for (const [timer, rec] of this.live) {
      if (!timer.hasRef()) continue;
      const frames = (rec.site.stack ?? '').split('\n').slice(3, 6).map((l) => l.trim()).join(' < ');
      out.push(`${rec.kind}(…, ${String(rec.ms)}) ${frames}`);
    }
    return out;
  }
}
