import { asyncScheduler, firstValueFrom, from, map, race, timer, type SchedulerLike } from '../rx';

/**
 * Races `work` against a grace timer: resolves `true` when it settles first, `false` when `graceMs`
 * passes first (the work keeps running; the caller decides what to cut). The timer is released
 * either way. Rejects only if `work` rejects before the grace is over.
 *
 * The one "wait, but not forever" used by every shutdown (gateway, upstream dispatcher, proxy);
 * `scheduler` makes it run in virtual time under a `TestScheduler`.
 */
export function settledWithin(work: PromiseLike<unknown>, graceMs: number, scheduler: SchedulerLike = asyncScheduler): Promise<boolean> {
  return firstValueFrom(race(from(work).pipe(map(() => true)), timer(Math.max(0, graceMs), scheduler).pipe(map(() => false))));
}
