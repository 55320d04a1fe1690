import { setFlagsFromString } from 'node:v8';

/**
 * A proxy daemon compiles undici's HTTP parser (WebAssembly) with Liftoff only (D96): V8's
 * background tier-up of it to TurboFan allocates ~35 MiB of compiler memory, of which glibc keeps
 * ~10 MiB resident for the process's life, and the optimised parser saved nothing measurable (it
 * reads heads and chunk sizes; bodies pass as spans). The flag must be set before the parser is
 * compiled (undici does that on its first connection). Set by the CLI's proxy runner
 * (src/cli/runners.ts) and the bench's Node floor, never on import: a program that embeds the
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
