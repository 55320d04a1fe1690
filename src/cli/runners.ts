import { liftoffOnlyWasm } from '../wasm-liftoff';
import { loadCheckpointSigner, openAuditDestination } from '../audit';
import type * as Demo from '../demo';
import type * as Gateway from '../gateway';
import type * as Proxy from '../proxy';
import type { Runners } from './types';

/*
 * Each component is loaded when its command runs, not when the binary starts (issue 10, idle
 * memory): a gateway never loads the proxy's upstream client (undici), a proxy never loads the
 * gateway, and neither loads the demo, which brings the MCP SDK, zod and ajv (~500 ms of start-up
 * and ~40 MiB of RSS on the bench machine). `require` is synchronous, so startProxy stays synchronous.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading, see above */
const gateway = (): typeof Gateway => require('../gateway') as typeof Gateway;
const proxy = (): typeof Proxy => require('../proxy') as typeof Proxy;
const demo = (): typeof Demo => require('../demo') as typeof Demo;
/* eslint-enable @typescript-eslint/no-require-imports */

// D96, D99: the proxy runner below sets it; tests reach it here.
export { liftoffOnlyWasm } from '../wasm-liftoff';

/** The real components. Kept out of cli.ts so that tests can run the CLI with fakes. */
export const defaultRunners: Runners = {
  startGateway: (config, deps) => gateway().startGateway(config, deps),
  startProxy: (config, deps) => {
    liftoffOnlyWasm();
    return proxy().startProxy(config, deps);
  },
  runDemo: (opts) => demo().runDemo(opts),
  openAudit: (destination, log, audit) =>
    openAuditDestination(destination, {
      log,
      sync: audit?.sync ?? true,
      chain:
        audit === undefined
          ? {}
          : { signer: loadCheckpointSigner(audit), every: audit.checkpoint.every, intervalMs: audit.checkpoint.intervalMs },
    }),
};
