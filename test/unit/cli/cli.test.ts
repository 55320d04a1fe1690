import { TunnelError } from '../../../src/errors';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../../src/cli';
import { describeGatewaySchema, describeProxySchema, loadProxyConfig, type GatewayConfig, type ProxyConfig } from '../../../src/config';
import { VERSION } from '../../../src/version';
import { deferred, fakeIo, until } from './fake-io';

const SECRET = 'cli-test-secret-0123456789abcdefghijk';
const API_KEY = 'cli-test-api-key-0123456789abcdefghij';

/** A valid gateway configuration, all from env. */
function gatewayEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    MCP_TUNNEL_LISTEN_PORT: '0',
    MCP_TUNNEL_TUNNELS: JSON.stringify([{ id: 'corp', secrets: [SECRET] }]),
    MCP_TUNNEL_SERVERS: JSON.stringify([{ name: 'notes', tunnel: 'corp', url: 'http://127.0.0.1:9/mcp' }]),
    MCP_TUNNEL_CLIENTS: JSON.stringify([{ name: 'alice', apiKey: API_KEY, servers: ['*'] }]),
    ...extra,
  };
}

function proxyEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { MCP_TUNNEL_URL: 'wss://gw.example.com/tunnel/corp', MCP_TUNNEL_SECRET: SECRET, ...extra };
}

let tmpDir: string;
beforeEach(() => {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-cli-'));
});
afterEach(() => {
  fs.rmSync(tmpDir, { recursive: true, force: true });
});

describe('runCli: usage', () => {
  it('--help lists the commands on stdout', async () => {
    for (const flag of ['--help', '-h']) {
      const io = fakeIo();
      expect(await runCli([flag], io)).toBe(0);
      for (const name of ['gateway', 'proxy', 'demo', 'health', 'status', 'doctor']) expect(io.out.text).toMatch(new RegExp(`^  ${name} `, 'm'));
      expect(io.err.text).toBe('');
    }
  });

  it('--version prints the package version', async () => {
    const io = fakeIo();
    expect(await runCli(['--version'], io)).toBe(0);
    expect(io.out.text).toBe(`${VERSION}\n`);
  });

  it('no command → usage on stderr, exit 2', async () => {
    const io = fakeIo();
    expect(await runCli([], io)).toBe(2);
    expect(io.err.text).toMatch(/^mcp-tunnel: missing command\n\nUsage: mcp-tunnel <command>/);
    expect(io.out.text).toBe('');
  });

  it('unknown command → usage on stderr, exit 2', async () => {
    const io = fakeIo();
    expect(await runCli(['gatewya'], io)).toBe(2);
    expect(io.err.text).toMatch(/^mcp-tunnel: unknown command 'gatewya'\n\nUsage:/);
  });

  it.each([
    [['gateway', '--nope'], "mcp-tunnel gateway: Unknown option '--nope'"],
    [['proxy', '--secret', 'abc'], "mcp-tunnel proxy: Unknown option '--secret'"],
    [['proxy', 'extra'], "mcp-tunnel proxy: Unexpected argument 'extra'"],
    [['proxy', '--url'], "mcp-tunnel proxy: Option '--url <value>' argument missing"],
    [['demo', '--config', 'x'], "mcp-tunnel demo: Unknown option '--config'"],
  ])('%j → usage on stderr, exit 2', async (argv, message) => {
    const io = fakeIo(proxyEnv());
    expect(await runCli(argv, io)).toBe(2);
    expect(io.err.text.startsWith(message)).toBe(true);
    expect(io.err.text).toContain(`Run 'mcp-tunnel ${argv[0]} --help' for every option.`);
    expect(io.err.text).not.toContain('abc');
    expect(io.fakes.runners.startGateway).not.toHaveBeenCalled();
    expect(io.fakes.runners.startProxy).not.toHaveBeenCalled();
  });
});

describe('runCli: command help', () => {
  it('gateway --help lists every option with its env var, default and doc', async () => {
    const io = fakeIo();
    expect(await runCli(['gateway', '--help'], io)).toBe(0);
    expect(io.out.text).toContain('--config FILE');
    expect(io.out.text).toContain('MCP_TUNNEL_CONFIG');
    for (const row of describeGatewaySchema()) {
      expect(io.out.text).toContain(`  ${row.key}\n`);
      expect(io.out.text).toContain(`${row.env}; default: ${row.defaultText}`);
      expect(io.out.text).toContain(row.doc);
    }
  });

  it('proxy --help lists every flag and every option with its env var', async () => {
    const io = fakeIo();
    expect(await runCli(['proxy', '-h'], io)).toBe(0);
    for (const flag of ['--url URL', '--secret-file FILE', '--config FILE', '--allow-insecure']) expect(io.out.text).toContain(flag);
    for (const row of describeProxySchema()) {
      expect(io.out.text).toContain(`  ${row.key}\n`);
      expect(io.out.text).toContain(`${row.env ?? '(config file only)'}; default: ${row.defaultText}`);
      expect(io.out.text).toContain(row.doc);
    }
  });

  it('demo --help describes the demo', async () => {
    const io = fakeIo();
    expect(await runCli(['demo', '--help'], io)).toBe(0);
    expect(io.out.text).toMatch(/^Usage: mcp-tunnel demo/);
    expect(io.out.text).toContain('MCP_TUNNEL_LOG_LEVEL');
  });

  it('status --help and doctor --help describe their flags; doctor takes the proxy flags and options', async () => {
    const status = fakeIo();
    expect(await runCli(['status', '--help'], status)).toBe(0);
    expect(status.out.text).toMatch(/^Usage: mcp-tunnel status \[--url URL\] \[--config FILE\] \[--json\] \[--timeout-ms N\]/);
    const doctor = fakeIo();
    expect(await runCli(['doctor', '--help'], doctor)).toBe(0);
    for (const flag of ['--url URL', '--secret-file FILE', '--config FILE', '--allow-insecure', '--upstream NAME=URL,...', '--timeout-ms N']) expect(doctor.out.text).toContain(flag);
    expect(doctor.out.text.split('\n')[0]).not.toContain('--ops-listen');
    expect(doctor.out.text).toContain('MCP_TUNNEL_CA_FILE');
  });
});

describe('runCli: invalid configuration', () => {
  it('prints one line on stderr and exits 2, without the secret', async () => {
    const io = fakeIo({ MCP_TUNNEL_TUNNELS: JSON.stringify([{ id: 'corp', secrets: [] }]) });
    expect(await runCli(['gateway'], io)).toBe(2);
    expect(io.err.text).toBe('mcp-tunnel: invalid configuration: tunnels[0].secrets: must not be empty (value: [redacted])\n');
    expect(io.fakes.runners.startGateway).not.toHaveBeenCalled();
    expect(io.fakes.runners.openAudit).not.toHaveBeenCalled();
  });

  it('never shows a secret or an API key', async () => {
    const cases: NodeJS.ProcessEnv[] = [
      gatewayEnv({ MCP_TUNNEL_CLIENTS: JSON.stringify([{ name: 'a', apiKey: API_KEY, servers: ['nope'] }, { name: 'b', apiKey: API_KEY, servers: [] }]) }),
      gatewayEnv({ MCP_TUNNEL_CLIENTS: JSON.stringify([{ name: 'a', apiKey: API_KEY, servers: [] }, { name: 'b', apiKey: API_KEY, servers: [] }]) }),
      gatewayEnv({ MCP_TUNNEL_TUNNELS: `[{"id":"corp","secrets":["${SECRET}"]` }),
      gatewayEnv({ MCP_TUNNEL_TUNNELS: JSON.stringify([SECRET]) }),
    ];
    for (const env of cases) {
      const io = fakeIo(env);
      expect(await runCli(['gateway'], io)).toBe(2);
      expect(io.err.text).toMatch(/^mcp-tunnel: invalid configuration: \S+: .+\n$/);
      expect(io.err.text).not.toContain(SECRET);
      expect(io.err.text).not.toContain(API_KEY);
    }
  });

  it('reports the proxy ws:// refusal', async () => {
    const io = fakeIo(proxyEnv({ MCP_TUNNEL_URL: 'ws://gw.example.com/tunnel/corp' }));
    expect(await runCli(['proxy'], io)).toBe(2);
    expect(io.err.text).toBe(
      'mcp-tunnel: invalid configuration: url: ws:// (unencrypted) is only allowed to a loopback host; use wss:// or set MCP_TUNNEL_ALLOW_INSECURE=true (value: "ws://gw.example.com/tunnel/corp")\n',
    );
    expect(io.fakes.runners.startProxy).not.toHaveBeenCalled();
  });

  it('reports a missing config file', async () => {
    const missing = path.join(tmpDir, 'nope.json');
    const io = fakeIo();
    expect(await runCli(['gateway', '--config', missing], io)).toBe(2);
    expect(io.err.text).toBe(`mcp-tunnel: invalid configuration: ${missing}: cannot be read (ENOENT)\n`);
  });

  it('reports an invalid demo log level', async () => {
    const io = fakeIo({ MCP_TUNNEL_LOG_LEVEL: 'chatty' });
    expect(await runCli(['demo'], io)).toBe(2);
    expect(io.err.text).toMatch(/^mcp-tunnel: invalid configuration: log\.level: must be one of .* \(value: "chatty"\)\n$/);
  });
});

describe('runCli gateway', () => {
  it('starts the gateway with the loaded config, and stops it on SIGTERM with exit 0', async () => {
    const io = fakeIo(gatewayEnv({ MCP_TUNNEL_AUDIT: 'stderr' }));
    const exit = runCli(['gateway'], io);
    await until(() => io.logs.text.includes('mcp-tunnel started'));

    const [config, deps] = io.fakes.runners.startGateway.mock.calls[0] as [GatewayConfig, { auditLogger: unknown }];
    expect(config.listen.port).toBe(0);
    expect(config.clients[0]?.servers).toEqual(['notes']);
    expect(deps.auditLogger).toBe(io.fakes.auditLogger);
    expect(io.fakes.runners.openAudit).toHaveBeenCalledWith('stderr', expect.anything(), expect.anything());
    expect(io.loggerStreams).toEqual(['stdout']);

    io.signals.next('SIGTERM');
    expect(await exit).toBe(0);
    expect(io.fakes.gateway.close).toHaveBeenCalledTimes(1);
    expect(io.fakes.audit.close).toHaveBeenCalledTimes(1);
    expect(io.signals.observed).toBe(false);
    const msgs = io.logs.json().map((l) => l.msg);
    expect(msgs).toEqual(expect.arrayContaining(['starting gateway', 'mcp-tunnel started', 'stopped']));
    expect(io.logs.text).not.toContain(SECRET);
    expect(io.logs.text).not.toContain(API_KEY);
    expect(io.err.text).toBe('');
  });

  it('handles signals before it logs "starting gateway" (a supervisor may signal as soon as it sees it)', async () => {
    const io = fakeIo(gatewayEnv());
    let observedWhenStarting: boolean | null = null;
    io.logs.onWrite = (chunk) => {
      if (chunk.includes('starting gateway')) observedWhenStarting = io.signals.observed;
    };
    const exit = runCli(['gateway'], io);
    await until(() => observedWhenStarting !== null);
    expect(observedWhenStarting).toBe(true);
    io.signals.next('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('reads the file from --config, else MCP_TUNNEL_CONFIG; the flag wins', async () => {
    const fromFlag = path.join(tmpDir, 'flag.json');
    const fromEnv = path.join(tmpDir, 'env.json');
    fs.writeFileSync(fromFlag, JSON.stringify({ listen: { port: 1111 } }));
    fs.writeFileSync(fromEnv, JSON.stringify({ listen: { port: 2222 } }));

    for (const [argv, port] of [
      [['gateway', '--config', fromFlag], 1111],
      [['gateway'], 2222],
    ] as const) {
      const io = fakeIo({ MCP_TUNNEL_CONFIG: fromEnv });
      const exit = runCli(argv, io);
      await until(() => io.fakes.runners.startGateway.mock.calls.length > 0);
      expect((io.fakes.runners.startGateway.mock.calls[0] as [GatewayConfig])[0].listen.port).toBe(port);
      io.signals.next('SIGINT');
      expect(await exit).toBe(0);
    }
  });

  it('exits 130 at once on a second SIGINT while closing (143 for SIGTERM)', async () => {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      const io = fakeIo(gatewayEnv());
      const closing = deferred();
      io.fakes.gateway.close.mockImplementation(() => closing.promise);
      const exit = runCli(['gateway'], io);
      await until(() => io.logs.text.includes('mcp-tunnel started'));
      io.signals.next(signal);
      await until(() => io.fakes.gateway.close.mock.calls.length > 0);
      io.signals.next(signal);
      expect(await exit).toBe(code);
      expect(io.signals.observed).toBe(false);
      expect(io.fakes.audit.close).not.toHaveBeenCalled();
      closing.resolve();
    }
  });

  it('logs a start-up failure and exits 1', async () => {
    const io = fakeIo(gatewayEnv());
    io.fakes.runners.startGateway.mockRejectedValue(new Error('listen EADDRINUSE 127.0.0.1:8080'));
    expect(await runCli(['gateway'], io)).toBe(1);
    const failure = io.logs.json().find((l) => l.msg === 'failed to start');
    expect(failure?.level).toBe(50);
    expect(JSON.stringify(failure)).toContain('EADDRINUSE');
    expect(io.signals.observed).toBe(false);
  });

  it('a start-up failure the operator fixes (port in use) is one line without a stack, exit 2', async () => {
    const io = fakeIo(gatewayEnv());
    io.fakes.runners.startGateway.mockRejectedValue(new TunnelError('TUNNEL_LISTEN_FAILED', 'cannot listen on 127.0.0.1:8080: the port is in use'));
    expect(await runCli(['gateway'], io)).toBe(2);
    const failure = io.logs.json().find((l) => l.msg === 'failed to start');
    expect(failure).toMatchObject({ level: 50, code: 'TUNNEL_LISTEN_FAILED', reason: 'cannot listen on 127.0.0.1:8080: the port is in use' });
    expect(failure).not.toHaveProperty('err');
  });

  it('exits 1 when the audit destination cannot be created', async () => {
    const io = fakeIo(gatewayEnv());
    io.fakes.runners.openAudit.mockImplementation(() => {
      throw new Error('audit destination is empty');
    });
    expect(await runCli(['gateway'], io)).toBe(1);
    expect(io.fakes.runners.startGateway).not.toHaveBeenCalled();
  });

  it('exits 1 when close fails', async () => {
    const io = fakeIo(gatewayEnv());
    io.fakes.gateway.close.mockRejectedValue(new Error('boom'));
    const exit = runCli(['gateway'], io);
    await until(() => io.logs.text.includes('mcp-tunnel started'));
    io.signals.next('SIGTERM');
    expect(await exit).toBe(1);
    expect(io.logs.json().some((l) => l.msg === 'failed to close cleanly')).toBe(true);
  });

  it('closes a gateway that finishes starting after the first signal', async () => {
    const io = fakeIo(gatewayEnv());
    const starting = deferred<typeof io.fakes.gateway>();
    io.fakes.runners.startGateway.mockImplementation(() => starting.promise);
    const exit = runCli(['gateway'], io);
    await until(() => io.fakes.runners.startGateway.mock.calls.length > 0);
    io.signals.next('SIGTERM');
    starting.resolve(io.fakes.gateway);
    expect(await exit).toBe(0);
    expect(io.fakes.gateway.close).toHaveBeenCalledTimes(1);
  });

  it('turns an unexpected error into exit 1 with a message', async () => {
    const io = fakeIo(gatewayEnv());
    io.createLogger = () => {
      throw new Error('no logger today');
    };
    expect(await runCli(['gateway'], io)).toBe(1);
    expect(io.err.text).toBe('mcp-tunnel: unexpected error: no logger today\n');
  });
});

describe('runCli proxy', () => {
  it('starts the proxy from env, stops it on SIGINT', async () => {
    const io = fakeIo(proxyEnv({ MCP_TUNNEL_PROXY_NAME: 'p1' }));
    const exit = runCli(['proxy'], io);
    await until(() => io.fakes.runners.startProxy.mock.calls.length > 0);
    const [config] = io.fakes.runners.startProxy.mock.calls[0] as [ProxyConfig];
    expect(config).toMatchObject({ url: 'wss://gw.example.com/tunnel/corp', tunnelId: 'corp', secret: SECRET, name: 'p1' });
    io.signals.next('SIGINT');
    expect(await exit).toBe(0);
    expect(io.fakes.proxy.close).toHaveBeenCalledTimes(1);
    expect(io.logs.text).not.toContain(SECRET);
    expect(io.logs.json().find((l) => l.msg === 'starting proxy')).toMatchObject({ tunnel: 'corp', proxyName: 'p1' });
  });

  it('maps --url, --secret-file and --allow-insecure over the env (the flag replaces MCP_TUNNEL_SECRET)', async () => {
    const secretFile = path.join(tmpDir, 'secret');
    fs.writeFileSync(secretFile, 'secret-from-file-0123456789abcdefghijk\n');
    const io = fakeIo(proxyEnv());
    const argv = ['proxy', '--url', 'ws://10.0.0.9:8080/tunnel/lab', '--secret-file', secretFile, '--allow-insecure'];
    const exit = runCli(argv, io);
    await until(() => io.fakes.runners.startProxy.mock.calls.length > 0);
    const [config] = io.fakes.runners.startProxy.mock.calls[0] as [ProxyConfig];
    expect(config).toMatchObject({
      url: 'ws://10.0.0.9:8080/tunnel/lab',
      tunnelId: 'lab',
      secret: 'secret-from-file-0123456789abcdefghijk',
      secretFile,
      allowInsecure: true,
    });
    io.signals.next('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('reads --config as JSON with the same keys', async () => {
    const file = path.join(tmpDir, 'proxy.json');
    fs.writeFileSync(file, JSON.stringify({ url: 'wss://gw.example.com/tunnel/fromfile', reconnect: { baseMs: 10, capMs: 20 } }));
    const io = fakeIo({ MCP_TUNNEL_SECRET: SECRET });
    const exit = runCli(['proxy', '--config', file], io);
    await until(() => io.fakes.runners.startProxy.mock.calls.length > 0);
    const [config] = io.fakes.runners.startProxy.mock.calls[0] as [ProxyConfig];
    expect(config.tunnelId).toBe('fromfile');
    expect(config.reconnect).toEqual({ baseMs: 10, capMs: 20, stableMs: 10000 });
    io.signals.next('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('logs a synchronous start-up throw and exits 1', async () => {
    const io = fakeIo(proxyEnv());
    io.fakes.runners.startProxy.mockImplementation(() => {
      throw new Error('bad CA file');
    });
    expect(await runCli(['proxy'], io)).toBe(1);
    expect(io.logs.text).toContain('bad CA file');
  });
});

describe('runCli demo', () => {
  it('runs the demo on stdout with a stderr logger, and stops on SIGINT', async () => {
    const io = fakeIo();
    const exit = runCli(['demo'], io);
    await until(() => io.fakes.runners.runDemo.mock.calls.length > 0);
    const [opts] = io.fakes.runners.runDemo.mock.calls[0] as [{ stdout: unknown; logger: { level: string } }];
    expect(opts.stdout).toBe(io.stdout);
    expect(opts.logger.level).toBe('warn');
    expect(io.loggerStreams).toEqual(['stderr']);
    io.signals.next('SIGINT');
    expect(await exit).toBe(0);
    expect(io.fakes.demo.close).toHaveBeenCalledTimes(1);
    expect(io.fakes.runners.openAudit).not.toHaveBeenCalled();
  });
});

describe('runCli secret', () => {
  it('secret generate prints 32 random bytes as 43 base64url characters and a newline, exit 0', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const io = fakeIo();
      expect(await runCli(['secret', 'generate'], io)).toBe(0);
      expect(io.out.text).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
      expect(Buffer.from(io.out.text.trim(), 'base64url')).toHaveLength(32);
      expect(io.err.text).toBe('');
      seen.add(io.out.text);
    }
    expect(seen.size).toBe(3);
  });

  it('a generated secret is accepted by both loaders', async () => {
    const io = fakeIo();
    await runCli(['secret', 'generate'], io);
    const secret = io.out.text.trim();
    expect(loadProxyConfig({ env: { MCP_TUNNEL_URL: 'wss://gw.example.com/tunnel/corp', MCP_TUNNEL_SECRET: secret } }).secret).toBe(secret);
  });

  it.each([[['secret', '--help']], [['secret', '-h']], [['secret', 'generate', '--help']]])('%j prints the help, exit 0', async (argv) => {
    const io = fakeIo();
    expect(await runCli(argv, io)).toBe(0);
    expect(io.out.text).toMatch(/^Usage: mcp-tunnel secret generate\n/);
    expect(io.out.text).toContain('32 random bytes');
  });

  it.each([
    [['secret'], "mcp-tunnel secret: missing subcommand (only 'generate' exists)"],
    [['secret', 'rotate'], "mcp-tunnel secret: unknown subcommand 'rotate' (only 'generate' exists)"],
    [['secret', 'generate', 'extra'], "mcp-tunnel secret: Unexpected argument 'extra'"],
  ])('%j → usage error, exit 2', async (argv, message) => {
    const io = fakeIo();
    expect(await runCli(argv, io)).toBe(2);
    expect(io.err.text.startsWith(message)).toBe(true);
    expect(io.out.text).toBe('');
  });

  it('is listed in the command overview', async () => {
    const io = fakeIo();
    await runCli(['--help'], io);
    expect(io.out.text).toMatch(/^ {2}secret +Tunnel secrets/m);
  });
});
