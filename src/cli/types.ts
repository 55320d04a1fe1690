import type { Observable } from '../rx';
import type { AuditDestination } from '../audit';
import type { AuditConfig, GatewayConfig, LogFormat, ProxyConfig } from '../config';
import type { Logger } from '../log';
import type { ClusterStatus, GatewaySnapshot, Metrics } from '../ops';
import type { ProxyStatus } from '../proxy';
import type { CommandHelp } from './help';

/** The signals that stop a running command. */
export type ShutdownSignal = 'SIGINT' | 'SIGTERM';

/** Anything the CLI can stop on a signal. */
export interface Closable {
  close(graceMs?: number): Promise<void>;
}

export interface ComponentDeps {
  logger: Logger;
  auditLogger: Logger;
  /** Set when the ops listener is on: the component feeds it. */
  metrics?: Metrics;
}

/** What the CLI uses of a running gateway; `registry` feeds the ops listener's per-tunnel readiness. */
export type GatewayView = Closable & {
  readonly url: string;
  readonly port: number;
  reload?(config: GatewayConfig): void;
  readonly registry?: { connections(tunnelId: string): readonly unknown[] };
  /** Feeds the ops listener's `GET /status`. */
  snapshot?(): GatewaySnapshot;
  /** Cluster: see docs/cluster.md "Status JSON"; null without `cluster.redis`. */
  clusterSnapshot?(): ClusterStatus | null;
};

/** What the CLI uses of a running proxy; `status$` feeds readiness and sd_notify's READY=1. */
export type ProxyView = Closable & { reloadSecret?(): void; readonly status$?: Observable<ProxyStatus> };

/**
 * The component entry points the CLI calls: the contract with src/gateway, src/proxy, src/demo and
 * src/audit (wired in runners.ts; tests pass fakes).
 */
export interface Runners {
  startGateway: (config: GatewayConfig, deps: ComponentDeps) => Promise<GatewayView>;
  startProxy: (config: ProxyConfig, deps: ComponentDeps) => ProxyView;
  runDemo: (opts: { stdout: NodeJS.WritableStream; logger: Logger }) => Promise<{ close(): Promise<void> }>;
  /**
   * Opens the audit destination the command owns. `destination` is `stdout`, `stderr` or a file
   * path; problems with it are reported on `log`. `audit` (when given) configures the checkpoint key
   * and intervals; a bad key file throws (`TUNNEL_AUDIT_KEY_INVALID`, a start-up failure).
   */
  openAudit: (destination: string, log: Logger, audit?: AuditConfig) => AuditHandle;
}

/**
 * What the CLI does with an audit destination (src/audit `AuditDestination`): hand its logger to the
 * component, reopen it on SIGHUP (logrotate; never throws), close it on shutdown (never rejects).
 */
export type AuditHandle = Pick<AuditDestination, 'logger' | 'reopen' | 'close'>;

/** Everything `runCli` touches outside itself, so that tests can run it in-process. */
export interface CliIo {
  /** Help text, demo output. */
  stdout: NodeJS.WritableStream;
  /** Usage and configuration errors. */
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** SIGINT / SIGTERM as they arrive (process signals in production, a Subject in tests). */
  signals$: Observable<ShutdownSignal>;
  /**
   * SIGHUP as it arrives: the gateway reloads its config file, the proxy re-reads its secret file.
   * Absent: no reload signal (the files are still watched).
   */
  reloadSignals$?: Observable<'SIGHUP'>;
  /**
   * SIGUSR2 as it arrives: cycles the log level (info → debug → trace → info). Absent: no such signal.
   */
  levelSignals$?: Observable<'SIGUSR2'>;
  /**
   * The process logger, writing to stdout or stderr; `format` `auto` (default) is pretty on a
   * terminal and JSON lines otherwise.
   */
  createLogger: (opts: { level: string; stream: 'stdout' | 'stderr'; format?: LogFormat }) => Logger;
  runners: Runners;
}

/**
 * A subcommand: its help and how to run it. Declared here, beside `CliIo`, so that the command
 * modules and the command list (commands.ts) depend on this file and not on each other.
 */
export interface Command extends CommandHelp {
  /** Runs the command with the arguments after its name; resolves with the exit code. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}
