/**
 * The RxJS parts this codebase uses, imported by file. `import … from 'rxjs'` loads the whole
 * CommonJS bundle (224 modules, ~11 MiB of RSS, 200-350 ms on this machine); these deep imports load
 * ~90 modules (−2.4 MiB, −70 to −150 ms at every start; decisions.md D34). Same files as the
 * bundle's (`rxjs/dist/cjs/internal/…`), so classes, `instanceof` and `TestScheduler` (which
 * patches the internal providers) behave exactly as with the bundle. Import RxJS from here in
 * src/; tests may import 'rxjs'.
 */
export { Observable } from 'rxjs/internal/Observable';
export { Subject } from 'rxjs/internal/Subject';
export { BehaviorSubject } from 'rxjs/internal/BehaviorSubject';
export { AsyncSubject } from 'rxjs/internal/AsyncSubject';
export { Subscriber } from 'rxjs/internal/Subscriber';
export { Subscription } from 'rxjs/internal/Subscription';
export { firstValueFrom } from 'rxjs/internal/firstValueFrom';
export { lastValueFrom } from 'rxjs/internal/lastValueFrom';
export type { SchedulerLike } from 'rxjs/internal/types';
export { asyncScheduler } from 'rxjs/internal/scheduler/async';
export { EMPTY } from 'rxjs/internal/observable/empty';
export { NEVER } from 'rxjs/internal/observable/never';
export { defer } from 'rxjs/internal/observable/defer';
export { forkJoin } from 'rxjs/internal/observable/forkJoin';
export { from } from 'rxjs/internal/observable/from';
export { fromEvent } from 'rxjs/internal/observable/fromEvent';
export { interval } from 'rxjs/internal/observable/interval';
export { merge } from 'rxjs/internal/observable/merge';
export { of } from 'rxjs/internal/observable/of';
export { race } from 'rxjs/internal/observable/race';
export { timer } from 'rxjs/internal/observable/timer';
export { catchError } from 'rxjs/internal/operators/catchError';
export { debounceTime } from 'rxjs/internal/operators/debounceTime';
export { delay } from 'rxjs/internal/operators/delay';
export { exhaustMap } from 'rxjs/internal/operators/exhaustMap';
export { filter } from 'rxjs/internal/operators/filter';
export { finalize } from 'rxjs/internal/operators/finalize';
export { ignoreElements } from 'rxjs/internal/operators/ignoreElements';
export { map } from 'rxjs/internal/operators/map';
export { observeOn } from 'rxjs/internal/operators/observeOn';
export { retry } from 'rxjs/internal/operators/retry';
export { startWith } from 'rxjs/internal/operators/startWith';
export { switchMap } from 'rxjs/internal/operators/switchMap';
export { take } from 'rxjs/internal/operators/take';
export { takeUntil } from 'rxjs/internal/operators/takeUntil';
export { tap } from 'rxjs/internal/operators/tap';
export { timeout } from 'rxjs/internal/operators/timeout';
