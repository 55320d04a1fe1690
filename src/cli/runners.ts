import { setFlagsFromString } from 'node:v8';
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

/**
 * A proxy daemon compiles undici's HTTP parser (WebAssembly) with Liftoff only (D96): V8's
 * background tier-up of it to TurboFan allocates ~35 MiB of compiler memory, of which glibc keeps
 * ~10 MiB resident for the process's life, and the optimised parser saved nothing measurable (it
 * reads heads and chunk sizes; bodies pass as spans). The flag must be set before the parser is
 * compiled (undici does that on its first connection). Only here: a program that embeds the
 * library keeps V8's defaults for its own WebAssembly.
 *
 * Which flags do it when set at run time depends on V8 (D99): Node 20's V8 11.3 honours
 * `--liftoff-only`; Node 24's V8 13.6 ignores it there and needs tier-up off both ways (no
 * dynamic tier-up of hot functions, no eager background tier-up of the whole module). All three
 * are set; each line ignores what it does not need.
 */
export const LIFTOFF_ONLY_FLAGS = ['--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering'] as const;

export function liftoffOnlyWasm(): void {
  for (const flag of LIFTOFF_ONLY_FLAGS) setFlagsFromString(flag);
}

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
