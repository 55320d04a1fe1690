import * as tty from 'node:tty';
import pino from 'pino';
import { createLogger } from '../log';
import { processSignals$ } from './lifecycle';
import { levelSignals$ } from './log-level';
import { reloadSignals$ } from './reload';
import type { CliIo, Runners } from './types';

/** The real process: its streams, env and signals, and loggers writing synchronously to fd 1 / fd 2. */
export function processIo(runners: Runners): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signals$: processSignals$(),
    reloadSignals$: reloadSignals$(),
    levelSignals$: levelSignals$(),
    createLogger: ({ level, stream, format = 'auto' }) => {
      const fd = stream === 'stdout' ? 1 : 2;
      // Synchronous, so that nothing is lost when main.ts calls process.exit.
      const sonic = pino.destination({ fd, sync: true });
      const terminal = tty.isatty(fd);
      const pretty = format === 'pretty' || (format === 'auto' && terminal);
      return createLogger({
        level,
        name: 'mcp-tunnel',
        destination: pretty ? loadPretty().prettyDestination(sonic, { colors: terminal && !process.env.NO_COLOR }) : sonic,
      });
    },
    runners,
  };
}

/** The pretty formatter, loaded only when chosen: a JSON-logging daemon never pays for it. */
function loadPretty(): typeof import('../log/pretty') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy on purpose (idle memory of JSON-logging daemons)
  return require('../log/pretty') as typeof import('../log/pretty');
}
