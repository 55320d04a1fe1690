/**
 * The three parts of undici the proxy uses, loaded by file rather than through `require('undici')`
 * (issue 10, idle memory): undici's index loads every feature it has (fetch, WebSocket, EventSource,
 * the cache stores, mocks, interceptors: ~110 modules), which costs a proxy ~9 MiB of RSS and
 * ~130 ms of start-up for nothing it uses. These are the very classes the index exports (the same
 * module instances), so types and `instanceof` are unchanged. The index also adds the request API
 * (`request`, `stream`, …) to `Dispatcher.prototype`; that is done here the same way, once.
 */
import type * as Undici from 'undici';

/* eslint-disable @typescript-eslint/no-require-imports -- deep requires, see above (undici ships no types for them) */
const dispatcherClass = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
Object.assign(dispatcherClass.prototype, require('undici/lib/api') as object);

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export type Agent = Undici.Agent;
export const Pool = require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
export type Pool = Undici.Pool;
export const buildConnector = require('undici/lib/core/connect.js') as typeof Undici.buildConnector;
/* eslint-enable @typescript-eslint/no-require-imports */

// eslint-disable-next-line @typescript-eslint/no-namespace -- the types that go with the value, as undici declares them
export declare namespace buildConnector {
  export type BuildOptions = Undici.buildConnector.BuildOptions;
  export type Options = Undici.buildConnector.Options;
  export type Callback = Undici.buildConnector.Callback;
  export type connector = Undici.buildConnector.connector;
}
