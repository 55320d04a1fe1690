export interface WaitForOptions {
  /** Give up after this long; default 5000 ms. */
  timeoutMs?: number;
  /** Time between polls; default 10 ms. */
  intervalMs?: number;
  /** Describes what was awaited, for the timeout error. */
  message?: string | (() => string);
}

/** The value a `waitFor` predicate resolves when satisfied: anything but `undefined`, `null` and `false`. */
export type Satisfied<T> = Exclude<T, undefined | null | false>;

/**
 * Polls `predicate` until it returns (or resolves to) something other than `undefined`, `null` or
 * `false`, and resolves with that value. Rejects after `timeoutMs` with an error naming `message` and
 * the last value or error seen. A predicate that throws is retried, not fatal, so
 * `waitFor(() => { expect(x).toBe(1); return true; })` works. Never sleeps longer than it must.
 *
 * @throws Error when the deadline passes first.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  { timeoutMs = 5000, intervalMs = 10, message }: WaitForOptions = {},
): Promise<Satisfied<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value !== undefined && value !== null && value !== false) return value as Satisfied<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const what = typeof message === 'function' ? message() : (message ?? 'condition');
      const detail = last instanceof Error ? last.message : String(last);
      throw new Error(`waitFor timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`, {
        cause: last instanceof Error ? last : undefined,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, remaining)));
  }
}
