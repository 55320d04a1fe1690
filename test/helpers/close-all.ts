/** Anything a test needs to release: an object with `close()`, or a function. */
export type Closable = { close(): unknown } | (() => unknown) | null | undefined;

async function closeOne(item: Closable): Promise<void> {
  if (item === null || item === undefined) return;
  await (typeof item === 'function' ? item() : item.close());
}

/**
 * Closes every item, one after the other in the given order, even when some fail; `null`/`undefined`
 * are skipped. Rejects afterwards with the single error, or an `AggregateError` of all of them.
 */
export async function closeAll(items: Iterable<Closable>): Promise<void> {
  const errors: unknown[] = [];
  for (const item of items) {
    try {
      await closeOne(item);
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, `${errors.length} resources failed to close`);
}

/**
 * Collects resources as a test creates them and releases them in reverse order (clients before the
 * servers they talk to):
 *
 * ```ts
 * const res = new Resources();
 * afterEach(() => res.closeAll());
 * const upstream = res.add(await startStreamableUpstream());
 * ```
 */
export class Resources {
  private items: Closable[] = [];

  /** Registers `item` for `closeAll()` and returns it. */
  add<T extends Closable>(item: T): T {
    this.items.push(item);
    return item;
  }

  /** Registers a cleanup function. */
  defer(fn: () => unknown): void {
    this.items.push(fn);
  }

  /** Closes everything registered, newest first, and forgets it; see {@link closeAll}. */
  async closeAll(): Promise<void> {
    const items = this.items.reverse();
    this.items = [];
    await closeAll(items);
  }
}
