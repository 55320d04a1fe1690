import { describeError } from '../errors';
import { VERSION } from '../version';
import { UsageError } from './args';
import { COMMANDS } from './commands';
import { PROGRAM, renderUsage } from './help';
import { EXIT } from './lifecycle';
import type { CliIo } from './types';

function usageLine(name: string): string {
  return `Run '${PROGRAM} ${name} --help' for every option.\n`;
}

/**
 * Runs the `mcp-tunnel` command line and resolves with the process exit code (see `EXIT`; 130/143
 * after a second SIGINT/SIGTERM). Never rejects and never exits the process itself: `main.ts` does.
 *
 * Help goes to stdout; usage and configuration errors go to stderr as one line, exit 2.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '-h' || name === '--help') {
    io.stdout.write(renderUsage(COMMANDS));
    return EXIT.ok;
  }
  if (name === '--version') {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    const problem = name === undefined ? 'missing command' : `unknown command '${name}'`;
    io.stderr.write(`${PROGRAM}: ${problem}\n\n${renderUsage(COMMANDS)}`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${PROGRAM} ${command.name}: ${err.message}\n${usageLine(command.name)}`);
      return EXIT.usage;
    }
    io.stderr.write(`${PROGRAM}: unexpected error: ${describeError(err)}\n`);
    return EXIT.failure;
  }
}
