import pino, { type Logger, type DestinationStream } from 'pino';
import { REDACT_PATHS, F } from './fields';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: string;
  /** Where lines go; defaults to stdout (fd 1), synchronously so nothing is lost on exit. */
  destination?: DestinationStream;
  name?: string;
}

/** Creates the process-wide pino logger with the fixed redaction list. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      name: options.name,
      redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 1, sync: true }),
  );
}

/** A child logger bound to a component name (`connection`, `session`, `dispatch`, `audit`, …). */
export function componentLogger(parent: Logger, component: string, bindings: Record<string, unknown> = {}): Logger {
  return parent.child({ [F.component]: component, ...bindings });
}

/** A logger that drops everything; for tests and library use without logging. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
