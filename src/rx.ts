/**
 * The RxJS this codebase uses: the package's minified single-file bundle
 * (`rxjs/dist/bundles/rxjs.umd.min.js`), loaded by path (decisions.md D84, D87; D34 before it).
 * `import … from 'rxjs'` loads the CommonJS build, 224 files; the deep imports this module used before loaded 91 of them, 43 ms and 7 MiB of RSS at
 * every start on this machine. The bundle is one file, the same ES5 code, compiled lazily by V8:
 * 12-18 ms and 40 MiB of RSS for a bare process against 48. Its minified form (88 KB against 284)
 * is the same build: V8 keeps every loaded file's source in the heap for as long as the process
 * lives, so the smaller file is ~0.2 MiB less idle RSS (D87); RxJS's own frames in a stack trace
 * carry short names. Import RxJS from here in src/.
 *
 * There must be one copy of RxJS in a process: `TestScheduler.run` patches the time providers of
 * its own copy, and `instanceof` compares classes of one copy. jest maps `rxjs` and `rxjs/testing`
 * to this same bundle (jest.config.js), so tests that import 'rxjs' share it.
 */
import { dirname, join } from 'node:path';
import type * as Rx from 'rxjs';

/** The bundle's file (not in the package's `exports` map, so by path from the package's main entry). */
export const RXJS_BUNDLE = join(dirname(require.resolve('rxjs')), '..', 'bundles', 'rxjs.umd.min.js');

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a file the package does not export
const rx = require(RXJS_BUNDLE) as typeof Rx;

export type { SchedulerLike } from 'rxjs';

// Classes: a value and a type of the same name, as `export { X } from 'rxjs'` gives.
export const Observable = rx.Observable;
export type Observable<T> = Rx.Observable<T>;
export const Subject = rx.Subject;
export type Subject<T> = Rx.Subject<T>;
export const BehaviorSubject = rx.BehaviorSubject;
export type BehaviorSubject<T> = Rx.BehaviorSubject<T>;
export const AsyncSubject = rx.AsyncSubject;
export type AsyncSubject<T> = Rx.AsyncSubject<T>;
export const Subscriber = rx.Subscriber;
export type Subscriber<T> = Rx.Subscriber<T>;
export const Subscription = rx.Subscription;
export type Subscription = Rx.Subscription;

export const {
  firstValueFrom,
  lastValueFrom,
  asyncScheduler,
  EMPTY,
  NEVER,
  defer,
  forkJoin,
  from,
  fromEvent,
  interval,
  merge,
  of,
  race,
  timer,
  catchError,
  debounceTime,
  delay,
  exhaustMap,
  filter,
  finalize,
  ignoreElements,
  map,
  observeOn,
  retry,
  startWith,
  switchMap,
  take,
  takeUntil,
  tap,
  timeout,
} = rx;
