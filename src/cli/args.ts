import { parseArgs } from 'node:util';

/** One command-line flag of a command (`--help` is added to every command). */
export interface FlagSpec {
  /** Long name without dashes: `secret-file`. */
  name: string;
  type: 'string' | 'boolean';
  /** Placeholder in help: `FILE`. */
  valueName?: string;
  /** The env var with the same effect, if any. */
  env: string | null;
  doc: string;
}

/** A command line the CLI cannot accept; the CLI prints the message and usage, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedFlags {
  help: boolean;
  /** Flag values by long name; absent flags are undefined. */
  values: Record<string, string | boolean | undefined>;
}

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/**
 * Parses `args` strictly against `flags` (no positionals, no unknown flags).
 * @throws UsageError
 */
export function parseFlags(args: readonly string[], flags: readonly FlagSpec[]): ParsedFlags {
  const options: ParseArgsOptions = { help: { type: 'boolean', short: 'h' } };
  for (const flag of flags) options[flag.name] = { type: flag.type };
  try {
    const { values } = parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
    const out: Record<string, string | boolean | undefined> = {};
    for (const flag of flags) {
      const v = values[flag.name];
      out[flag.name] = typeof v === 'string' || typeof v === 'boolean' ? v : undefined;
    }
    return { help: values.help === true, values: out };
  } catch (err) {
    // parseArgs errors name the flag, never a flag's value. (Not `instanceof Error`: under jest the
    // error comes from another realm.)
    const message = (err as { message?: unknown } | null)?.message;
    throw new UsageError(typeof message === 'string' ? message : String(err));
  }
}
