import type { ConfigOptionRow } from '../config';
import type { FlagSpec } from './args';

export const PROGRAM = 'mcp-tunnel';

/** A subcommand as shown in help. */
export interface CommandHelp {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Longer description under the usage line. */
  description: string;
  flags: readonly FlagSpec[];
  /** Every configuration option (from the schema description); empty for commands without config. */
  options: readonly ConfigOptionRow[];
  /** Extra paragraphs (env-only settings, examples). */
  notes?: readonly string[];
  /** Usage line after `Usage: `, for commands with subcommands; default: program, name and flags. */
  usage?: string;
}

const INDENT = '  ';

function flagLabel(flag: FlagSpec): string {
  return `--${flag.name}${flag.type === 'string' ? ` ${flag.valueName ?? 'VALUE'}` : ''}`;
}

/** `mcp-tunnel --help`: the command list. */
export function renderUsage(commands: readonly CommandHelp[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 3;
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Reach MCP servers inside a private network from a hosted gateway, over an outbound-only tunnel.',
    '',
    'Commands:',
    ...commands.map((c) => `${INDENT}${c.name.padEnd(width)}${c.summary}`),
    '',
    'Options:',
    `${INDENT}-h, --help     Show this help.`,
    `${INDENT}--version      Print the version.`,
    '',
    `Run '${PROGRAM} <command> --help' for every option of a command.`,
    'Exit codes: 0 stopped cleanly, 1 failed, 2 bad command line or configuration, 130/143 second SIGINT/SIGTERM.',
    '',
  ].join('\n');
}

/** `mcp-tunnel <command> --help`: every flag and every configuration option with its env var. */
export function renderCommandHelp(command: CommandHelp): string {
  const flagPart = command.flags.map((f) => `[${flagLabel(f)}]`).join(' ');
  const usage = command.usage ?? `${PROGRAM} ${command.name}${flagPart === '' ? '' : ` ${flagPart}`}`;
  const lines = [`Usage: ${usage}`, '', command.description, ''];

  lines.push('Flags:');
  const labels = command.flags.map(flagLabel);
  const width = Math.max('-h, --help'.length, ...labels.map((l) => l.length)) + 3;
  command.flags.forEach((flag, i) => {
    const env = flag.env === null ? '' : ` (env ${flag.env})`;
    lines.push(`${INDENT}${(labels[i] ?? '').padEnd(width)}${flag.doc}${env}`);
  });
  lines.push(`${INDENT}${'-h, --help'.padEnd(width)}Show this help.`, '');

  if (command.options.length > 0) {
    lines.push('Configuration (JSON config file key; env var; default). Precedence: flags > env > file > defaults.');
    for (const row of command.options) {
      const env = row.env ?? '(config file only)';
      lines.push(`${INDENT}${row.key}`, `${INDENT}${INDENT}${INDENT}${env}; default: ${row.defaultText}`);
      lines.push(`${INDENT}${INDENT}${INDENT}${row.doc}`);
    }
    lines.push('');
  }
  for (const note of command.notes ?? []) lines.push(note, '');
  return lines.join('\n');
}
