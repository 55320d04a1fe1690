import { ENV_PREFIX, LOG_LEVELS } from '../config/constants';
import type * as ReplayModule from '../replay';
import type { ReplayIo } from '../replay';
import { PROGRAM, renderCommandHelp } from './help';
import { EXIT, flushLogger } from './lifecycle';
import type { Command } from './types';

type RunSub = (args: readonly string[], io: ReplayIo) => Promise<number>;

/**
 * The replay package loads when a replay subcommand runs, not with the CLI (a gateway or proxy
 * process does not need its ~30 modules at start-up: D77).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading, as in src/cli/runners.ts
const replay = (): typeof ReplayModule => require('../replay') as typeof ReplayModule;
const SUBCOMMANDS: Record<string, RunSub | undefined> = {
  serve: (args, io) => replay().runReplayServe(args, io),
  run: (args, io) => replay().runReplayRun(args, io),
  export: (args, io) => replay().runReplayExport(args, io),
};

/**
 * `mcp-tunnel replay serve|run|export FILE …` (docs/replay.md): a mock MCP server answering from a
 * recording, a regression run against a live target, a HAR export. Exit codes: 0 fine, 1 an
 * unmatched request (serve) or a breaking difference (run), 2 a usage or I/O error.
 */
export const replayCommand: Command = {
  name: 'replay',
  summary: 'Serve a recording as a mock MCP server, run it against a live server, or export it as HAR.',
  usage: `${PROGRAM} replay serve|run|export FILE [options]`,
  description:
    'serve FILE --listen HOST:PORT [--timing instant|recorded|scaled:F] [--ignore POINTER]...\n' +
    '    Serves each recorded server at /mcp/{server}; prints MCP_URL=http://HOST:PORT/mcp/{server} per server once\n' +
    '    listening; stops on SIGINT/SIGTERM: exit 0, or 1 if any request matched no recorded exchange.\n' +
    "run FILE --target URL [--server NAME] [--header 'Name: value']... [--report OUT.json] [--junit OUT.xml]\n" +
    '    [--ignore POINTER]... [--cut-sse-at N]\n' +
    '    Sends the recorded client side to URL and compares; exit 0 without a breaking difference, 1 with one.\n' +
    'export FILE --har OUT.har\n' +
    '    Writes HAR 1.2 (SSE events under _eventSource).\n' +
    'Exit 2 on a usage or I/O error. Recordings come from the gateway\'s or proxy\'s record.file / --record FILE.',
  flags: [],
  options: [],
  notes: [
    `Example: ${PROGRAM} replay serve suite.jsonl --listen 127.0.0.1:7070`,
    `         ${PROGRAM} replay run suite.jsonl --target http://127.0.0.1:8080/mcp/notes --header 'Authorization: Bearer KEY' --junit replay.xml`,
  ],

  async run(args, io) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '-h' || sub === '--help' || rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(renderCommandHelp(replayCommand));
      return sub === undefined ? EXIT.usage : EXIT.ok;
    }
    const runSub = Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
    if (runSub === undefined) {
      io.stderr.write(`${PROGRAM} replay: unknown subcommand ${sub} (serve, run or export)\n`);
      return EXIT.usage;
    }
    const wanted = io.env[`${ENV_PREFIX}LOG_LEVEL`] ?? '';
    const level = (LOG_LEVELS as readonly string[]).includes(wanted) ? wanted : 'warn';
    const logger = io.createLogger({ level, stream: 'stderr' });
    const code = await runSub(rest, { stdout: io.stdout, stderr: io.stderr, signals$: io.signals$, logger });
    await flushLogger(logger);
    return code;
  },
};
