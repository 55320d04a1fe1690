import { Subject, Subscription, type Observable } from '../rx';
// The configuration by file, and the gateway's schema and reloads only when a gateway runs: a proxy
// started by this CLI does not load the gateway's configuration code (decisions.md D88).
import type * as GatewayConfigModule from '../config/gateway';
import { CONFIG_INVALID, ConfigError } from '../config/errors';
import { ENV_PREFIX, LOG_LEVELS } from '../config/constants';
import { describeProxySchema } from '../config/proxy';
import type { AuditConfig } from '../config/types';
import { hasCode } from '../errors';
import { F, componentLogger, type Logger } from '../log';
import { parseFlags, type FlagSpec } from './args';
import { CONFIG_FLAG, LOG_FORMAT_FLAG, OPS_LISTEN_FLAG, PROXY_FLAGS, RECORD_FLAG, configFile, loadProxyFromFlags } from './flags';
import { auditCommand } from './audit-command';
import { healthCommand } from './health-command';
import { doctorCommand } from './doctor-command';
import { replayCommand } from './replay-command';
import { statusCommand } from './status-command';
import { PROGRAM, renderCommandHelp } from './help';
import { gatewayReadiness, gatewayStatus, startOpsHooks, watchProxyReadiness, type OpsHooks } from './ops-wiring';
import type { Readiness } from '../ops';
import { EXIT, flushLogger, serveUntilSignal, signalExitCode } from './lifecycle';
import { cycleLevelOn, setLogLevel } from './log-level';
import { startGatewayReloads } from './reload';
import { logGatewayStartup, logProxyStartup, reloadProxyLogLevel, warnExpiringProxyCertificates } from './startup';
import { secretCommand } from './secret-command';
import type { AuditHandle, CliIo, Closable, Command } from './types';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading, as in src/cli/runners.ts
const gatewayConfig = (): typeof GatewayConfigModule => require('../config/gateway') as typeof GatewayConfigModule;



/**
 * Takes over SIGHUP at once (Node's default for it is to exit) and relays it to `run`'s reloads
 * while the command runs; a SIGHUP before the service has started is dropped (the configuration was
 * just read). Restores the default when `run` settles.
 */
async function withReloadSignals(io: CliIo, run: (signals$: Observable<'SIGHUP'>) => Promise<number>): Promise<number> {
  const relay = new Subject<'SIGHUP'>();
  const sub = io.reloadSignals$?.subscribe(relay);
  try {
    return await run(relay);
  } finally {
    sub?.unsubscribe();
    relay.complete();
  }
}

/** {@link withReloadSignals}, and SIGUSR2 cycling the level of `root` for as long as `run` runs. */
async function withProcessSignals(io: CliIo, root: Logger, run: (signals$: Observable<'SIGHUP'>) => Promise<number>): Promise<number> {
  const levels = cycleLevelOn(io.levelSignals$, root);
  try {
    return await withReloadSignals(io, run);
  } finally {
    levels?.unsubscribe();
  }
}

/** Starts the component; when that fails, closes the ops hooks (listener, sd_notify) before rethrowing. */
async function startOrClose<T>(ops: OpsHooks, start: () => T | Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    await ops.close({ close: () => Promise.resolve() });
    throw err;
  }
}

/** Runs `load`; a ConfigError becomes one line on stderr and null (the caller exits 2). */
function loadOrReport<T>(io: CliIo, load: () => T): T | null {
  try {
    return load();
  } catch (err) {
    if (!hasCode(err, CONFIG_INVALID)) throw err;
    io.stderr.write(`${PROGRAM}: invalid configuration: ${(err as Error).message}\n`);
    return null;
  }
}

/**
 * Serves until a signal; then closes the audit destination (if `start` opened one; skipped after a
 * second signal) and flushes the process logger before returning the exit code, so that no line is
 * lost to process.exit. The command owns the destination: it opens, reopens and closes it.
 */
async function serve(
  io: CliIo,
  root: Logger,
  /** Runs after the signal handlers are installed: a line it logs means signals are handled. */
  start: (withAudit: (audit: AuditConfig, reopen$?: Observable<'SIGHUP'>) => Logger) => Promise<Closable>,
): Promise<number> {
  let destination: AuditHandle | null = null;
  // SIGHUP reopens the audit file (logrotate), alongside whatever else SIGHUP does for the command.
  const reopening = new Subscription();
  const withAudit = (audit: AuditConfig, reopen$?: Observable<'SIGHUP'>): Logger => {
    const opened = io.runners.openAudit(audit.destination, componentLogger(root, 'audit'), audit);
    destination = opened;
    if (reopen$ !== undefined) reopening.add(reopen$.subscribe(() => opened.reopen()));
    return opened.logger;
  };
  const code = await serveUntilSignal({
    start: () => start(withAudit),
    signals$: io.signals$,
    logger: componentLogger(root, 'cli'),
  });
  reopening.unsubscribe();
  // After a second signal the operator asked to exit at once: do not wait on a slow audit file.
  const interrupted = code === signalExitCode('SIGINT') || code === signalExitCode('SIGTERM');
  // `destination` is assigned in withAudit, which TypeScript's flow analysis does not follow.
  const opened = destination as AuditHandle | null;
  if (opened !== null && !interrupted) await opened.close();
  await flushLogger(root);
  return code;
}



const GATEWAY_FLAGS: readonly FlagSpec[] = [CONFIG_FLAG, OPS_LISTEN_FLAG, LOG_FORMAT_FLAG, RECORD_FLAG];


export const gatewayCommand: Command = {
  name: 'gateway',
  summary: 'Run the hosted gateway: MCP clients call it, requests go down the tunnels.',
  description:
    'Runs the gateway. MCP clients call it over HTTP(S) with their API key; proxies inside private networks\n' +
    'dial in over WebSocket and carry the requests to the internal MCP servers.',
  flags: GATEWAY_FLAGS,
  get options() {
    return gatewayConfig().describeGatewaySchema();
  },
  notes: [`Example: ${PROGRAM} gateway --config /etc/mcp-tunnel/gateway.json`],

  async run(args, io) {
    const { help, values } = parseFlags(args, GATEWAY_FLAGS);
    if (help) {
      io.stdout.write(renderCommandHelp(gatewayCommand));
      return EXIT.ok;
    }
    const file = configFile(values, io.env);
    const overrides = { 'ops.listen': values['ops-listen'], 'log.format': values['log-format'], 'record.file': values.record };
    const config = loadOrReport(io, () => gatewayConfig().loadGatewayConfig({ file, env: io.env, overrides }));
    if (config === null) return EXIT.usage;

    const root = io.createLogger({ level: config.log.level, stream: 'stdout', format: config.log.format });
    return withProcessSignals(io, root, (reloadSignals$) => serve(io, root, async (withAudit) => {
      componentLogger(root, 'cli').info(
        {
          listen: config.listen,
          tls: config.tls !== null,
          tunnels: config.tunnels.map((t) => t.id),
          servers: config.servers.map((s) => s.name),
          clients: config.clients.map((c) => c.name),
        },
        'starting gateway',
      );
      const auditLogger = withAudit(config.audit, reloadSignals$);
      let tunnelIds = config.tunnels.map((t) => t.id);
      let readiness: () => Readiness = () => ({ ready: false, reason: 'starting' });
      const ops = await startOpsHooks({ role: 'gateway', listen: config.ops?.listen ?? null, readiness: () => readiness(), env: io.env, logger: root });
      const gateway = await startOrClose(ops, () => io.runners.startGateway(config, { logger: root, auditLogger, ...(ops.metrics ? { metrics: ops.metrics } : {}) }));
      readiness = gatewayReadiness(gateway, () => tunnelIds);
      const snapshot = gateway.snapshot?.bind(gateway);
      if (snapshot !== undefined) ops.setStatus(gatewayStatus({ snapshot, clusterSnapshot: gateway.clusterSnapshot?.bind(gateway) }));
      logGatewayStartup(componentLogger(root, 'cli'), config, gateway.url, ops.url);
      ops.ready('listening');
      const reload = gateway.reload?.bind(gateway);
      if (reload === undefined) return { close: (graceMs?: number) => ops.close(gateway, graceMs) };
      // SIGHUP and config-file changes reload secrets, clients, servers (hot secret rotation).
      const reloads = startGatewayReloads({
        file,
        env: io.env,
        signals$: ops.aroundReloads(reloadSignals$),
        reload: (next) => {
          reload(next);
          tunnelIds = next.tunnels.map((t) => t.id);
          setLogLevel(root, next.log.level, 'configuration reload');
        },
        initial: config,
        logger: componentLogger(root, 'cli'),
      });
      return {
        close: async (graceMs?: number) => {
          reloads.unsubscribe();
          await ops.close(gateway, graceMs);
        },
      };
    }));
  },
};

export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'Run the proxy inside the private network: it dials out to the gateway.',
  description:
    'Runs the proxy. It connects out to the gateway over WebSocket (wss://), authenticates with the tunnel\n' +
    'secret, and forwards the requests it receives to the internal MCP servers.',
  flags: PROXY_FLAGS,
  get options() {
    return describeProxySchema();
  },
  notes: [
    'Example:',
    `  ${ENV_PREFIX}URL=wss://gateway.example.com/tunnel/corp ${ENV_PREFIX}SECRET_FILE=/run/secrets/tunnel ${PROGRAM} proxy`,
  ],

  async run(args, io) {
    const { help, values } = parseFlags(args, PROXY_FLAGS);
    if (help) {
      io.stdout.write(renderCommandHelp(proxyCommand));
      return EXIT.ok;
    }
    const config = loadOrReport(io, () => loadProxyFromFlags(values, io.env));
    if (config === null) return EXIT.usage;

    const root = io.createLogger({ level: config.log.level, stream: 'stdout', format: config.log.format });
    return withProcessSignals(io, root, (reloadSignals$) => serve(io, root, async (withAudit) => {
      componentLogger(root, 'cli').info(
        { [F.url]: config.url, [F.tunnel]: config.tunnelId, proxyName: config.name },
        'starting proxy',
      );
      const auditLogger = withAudit(config.audit, reloadSignals$);
      let readiness: () => Readiness = () => ({ ready: false, reason: 'starting' });
      const ops = await startOpsHooks({ role: 'proxy', listen: config.ops?.listen ?? null, readiness: () => readiness(), env: io.env, logger: root });
      const proxy = await startOrClose(ops, () => io.runners.startProxy(config, { logger: root, auditLogger, ...(ops.metrics ? { metrics: ops.metrics } : {}) }));
      const watched = watchProxyReadiness(proxy, ops);
      readiness = watched.readiness;
      logProxyStartup(componentLogger(root, 'cli'), config, ops.url);
      warnExpiringProxyCertificates(componentLogger(root, 'cli'), config);
      const reloadSecret = proxy.reloadSecret?.bind(proxy);
      // SIGHUP re-reads the secret file (it is also watched) and re-authenticates in-band, and applies log.level.
      const reloads = ops.aroundReloads(reloadSignals$).subscribe(() => {
        reloadProxyLogLevel(root, componentLogger(root, 'cli'), () => loadProxyFromFlags(values, io.env));
        reloadSecret?.();
      });
      return {
        close: async (graceMs?: number) => {
          reloads.unsubscribe();
          watched.subscription?.unsubscribe();
          await ops.close(proxy, graceMs);
        },
      };
    }));
  },
};

const DEMO_LOG_LEVEL = 'warn';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Run a gateway, a proxy and a sample MCP server on loopback, and show a call through the tunnel.',
  description:
    'Starts everything on 127.0.0.1 (free ports), prints what happens, and keeps running until Ctrl-C.\n' +
    `Logs go to stderr at level ${ENV_PREFIX}LOG_LEVEL (default ${DEMO_LOG_LEVEL}).`,
  flags: [],
  options: [],

  async run(args, io) {
    const { help } = parseFlags(args, []);
    if (help) {
      io.stdout.write(renderCommandHelp(demoCommand));
      return EXIT.ok;
    }
    const level = loadOrReport(io, () => {
      const fromEnv = io.env[`${ENV_PREFIX}LOG_LEVEL`];
      const value = fromEnv === undefined || fromEnv === '' ? DEMO_LOG_LEVEL : fromEnv;
      if (!(LOG_LEVELS as readonly string[]).includes(value)) {
        throw new ConfigError({ key: 'log.level', problem: `must be one of ${LOG_LEVELS.join(', ')}`, value });
      }
      return value;
    });
    if (level === null) return EXIT.usage;

    const root = io.createLogger({ level, stream: 'stderr' });
    return serve(io, root, () => io.runners.runDemo({ stdout: io.stdout, logger: root }));
  },
};

/** The subcommands, in help order. */
export const COMMANDS: readonly Command[] = [
  gatewayCommand,
  proxyCommand,
  demoCommand,
  secretCommand,
  auditCommand,
  healthCommand,
  statusCommand,
  doctorCommand,
  replayCommand,
];
