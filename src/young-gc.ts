/**
 * A young-generation GC after every {@link SCAVENGE_EVERY_BYTES} of body bytes a process forwards
 * (D95). A process that only moves bytes (the proxy streaming a big response: socket reads handed
 * on as DATA frames) allocates a 64 KiB buffer per read but almost no JavaScript objects, so V8's
 * young generation never fills and no scavenge frees those buffers. They pile up as external
 * memory until V8 starts a full mark-compact for it: ~10 per 200 MB stream in the proxy, ~40 % of
 * its CPU on that stream (marking on helper threads included). A scavenge frees the same buffers in
 * ~1 ms. The multiplexer counts every DATA payload it sends or receives; the collection runs on a
 * later turn, never inside the frame handling that crossed the mark.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Body bytes between two young-generation collections. */
export const SCAVENGE_EVERY_BYTES = 8 * 1024 * 1024;

type GcFn = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

/**
 * V8's `gc` function: the process's own when it was started with `--expose-gc` (the flag is then left
 * as it is), else obtained without exposing it on this process's global object; undefined if unavailable.
 */
function obtainGc(): GcFn | undefined {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return own as GcFn;
  try {
    setFlagsFromString('--expose-gc');
    // A new context gets `gc` from the flag; the main context's global never does.
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as GcFn) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

let gc: GcFn | null | undefined = null; // null: not looked up yet; undefined: unavailable
let bytes = 0;
let scheduled = false;
let collections = 0;

/** Young-generation collections scheduled so far by {@link noteForwardedBytes} (tests, diagnostics). */
export function youngGcCount(): number {
  return collections;
}

function collect(): void {
  scheduled = false;
  bytes = 0;
  gc?.({ type: 'minor' });
}

/** Counts `n` forwarded body bytes; past the mark, schedules one young-generation GC. */
export function noteForwardedBytes(n: number): void {
  bytes += n;
  if (bytes < SCAVENGE_EVERY_BYTES || scheduled) return;
  if (gc === null) gc = obtainGc();
  if (gc === undefined) {
    bytes = 0;
    return;
  }
  scheduled = true;
  collections++;
  setImmediate(collect);
}
