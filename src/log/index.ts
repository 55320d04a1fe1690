export { F, REDACT_PATHS } from './fields';
export { createLogger, componentLogger, silentLogger, type Logger, type LoggerOptions } from './logger';
