/**
 * `rxjs/testing` for jest (jest.config.js moduleNameMapper): the TestScheduler of the same RxJS
 * bundle src/rx.ts loads, so `TestScheduler.run` patches the time providers the code under test uses.
 */
import type * as Testing from 'rxjs/testing';
import { RXJS_BUNDLE } from '../../src/rx';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle's `testing` namespace
const testing = (require(RXJS_BUNDLE) as { testing: typeof Testing }).testing;

export const { TestScheduler } = testing;
export type TestScheduler = Testing.TestScheduler;
