import * as fromPackage from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { Observable, Subject, asyncScheduler, delay, of } from '../../../src/rx';

// One copy of RxJS in a test process (decisions.md D84): jest maps 'rxjs' and 'rxjs/testing' to the
// bundle src/rx.ts loads. With two copies, TestScheduler.run would patch the other copy's time
// providers and the code under test would wait in real time.
describe('src/rx.ts and the rxjs the tests import', () => {
  it('are the same classes and schedulers', () => {
    expect(fromPackage.Observable).toBe(Observable);
    expect(fromPackage.Subject).toBe(Subject);
    expect(fromPackage.asyncScheduler).toBe(asyncScheduler);
    expect(of(1)).toBeInstanceOf(fromPackage.Observable);
  });

  it("TestScheduler.run puts src/rx.ts's default scheduler on virtual time", () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ expectObservable }) => {
      // A 10 s delay on the default (async) scheduler, as code without an injected scheduler has.
      expectObservable(of('x').pipe(delay(10_000))).toBe('10s (x|)');
    });
  });
});
