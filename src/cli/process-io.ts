import pino from 'pino';
import { createLogger } from '../log';
import { processSignals$ } from './lifecycle';
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
    createLogger: ({ level, stream }) =>
      createLogger({
        level,
        name: 'mcp-tunnel',
        // Synchronous, so that nothing is lost when main.ts calls process.exit.
        destination: pino.destination({ fd: stream === 'stdout' ? 1 : 2, sync: true }),
      }),
    runners,
  };
}
