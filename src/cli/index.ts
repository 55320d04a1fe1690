/**
 * The `mcp-tunnel` command line: `runCli` parses arguments, loads configuration and runs a component
 * until SIGINT/SIGTERM. `main.ts` binds it to the real process; `runners.ts` to the real components.
 */
export { runCli } from './cli';
export { COMMANDS } from './commands';
export { secretCommand, generateSecret, GENERATED_SECRET_BYTES } from './secret-command';
export { auditCommand } from './audit-command';
export { EXIT, signalExitCode, processSignals$, serveUntilSignal, flushLogger, type ServeOptions } from './lifecycle';
export { processIo } from './process-io';
export { parseFlags, UsageError, type FlagSpec, type ParsedFlags } from './args';
export { renderUsage, renderCommandHelp, type CommandHelp } from './help';
export type { AuditHandle, CliIo, Command, Runners, Closable, ComponentDeps, ShutdownSignal } from './types';
