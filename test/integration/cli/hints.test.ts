import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestCa } from '../../helpers/certs';
import { spawnCli, stopAllProcesses, type SpawnedProcess } from '../../helpers/process';

/**
 * Errors with hints (issue 11 part 6), through the built CLI (`npm run build` first): each proxy
 * connection failure names its cause and what to change; start-up problems are one line.
 */

let dir: string;
let ca: TestCa;
const servers: net.Server[] = [];
const sockets: net.Socket[] = [];

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-hints-it-'));
  ca = new TestCa();
});

afterEach(async () => {
  await stopAllProcesses();
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  ca.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text, { mode: 0o600 });
  return file;
}

/** A gateway child process (TLS when `tls` is given); resolves with its URL and the tunnel secret. */
async function gateway(tls: { cert: string; key: string } | null): Promise<{ proc: SpawnedProcess; url: string; secret: string }> {
  const secret = randomBytes(32).toString('base64url');
  const config = write('gateway.json', JSON.stringify({ listen: { host: '127.0.0.1', port: 0 }, tunnels: [{ id: 'corp', secrets: [secret] }], ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}) }));
  const proc = spawnCli(['gateway', '--config', config], { cleanEnv: true });
  const line = await proc.waitForJson((e) => e.msg === 'mcp-tunnel started');
  return { proc, url: String(line.url), secret };
}

/** Runs a proxy against `url` and resolves with its first reconnect line. */
async function firstFailure(url: string, secret: string, env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const proxy = spawnCli(['proxy', '--url', url, '--secret-file', write('secret', secret)], { cleanEnv: true, env: { MCP_TUNNEL_CONNECTIONS: '1', ...env } });
  return proxy.waitForJson((e) => typeof e.msg === 'string' && e.msg.startsWith('tunnel connection') && e.level !== 30);
}

describe('connection errors carry hints (child processes)', () => {
  it('wrong CA: TUNNEL_TLS_VERIFY_FAILED with a hint naming MCP_TUNNEL_CA_FILE; with the CA file it connects', async () => {
    const gw = await gateway(ca.issue('gw'));
    const wss = `${gw.url.replace(/^https/, 'wss')}/tunnel/corp`;
    const failure = await firstFailure(wss, gw.secret);
    expect(failure).toMatchObject({ code: 'TUNNEL_TLS_VERIFY_FAILED' });
    expect(String(failure.hint)).toContain('MCP_TUNNEL_CA_FILE');

    const proxy = spawnCli(['proxy', '--url', wss, '--secret-file', write('secret2', gw.secret)], { cleanEnv: true, env: { MCP_TUNNEL_CA_FILE: ca.caCert } });
    await proxy.waitForJson((e) => e.msg === 'tunnel connected and authenticated');
  });

  it('wss:// to a plain-HTTP port: TUNNEL_DIAL_NOT_TLS with a hint', async () => {
    const gw = await gateway(null);
    const failure = await firstFailure(`${gw.url.replace(/^http/, 'wss')}/tunnel/corp`, gw.secret, { MCP_TUNNEL_CA_FILE: ca.caCert });
    expect(failure).toMatchObject({ code: 'TUNNEL_DIAL_NOT_TLS' });
    expect(String(failure.hint)).toMatch(/without TLS/);
  });

  it('a peer that accepts TCP and never answers: TUNNEL_DIAL_TIMEOUT after handshakeTimeoutMs, with a hint', async () => {
    const silent = net.createServer((s) => sockets.push(s)); // accepts, says nothing
    servers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const started = Date.now();
    const failure = await firstFailure(`wss://127.0.0.1:${port}/tunnel/corp`, randomBytes(32).toString('base64url'), { MCP_TUNNEL_HANDSHAKE_TIMEOUT_MS: '400' });
    expect(failure).toMatchObject({ code: 'TUNNEL_DIAL_TIMEOUT' });
    expect(String(failure.reason)).toContain('within 400 ms');
    expect(String(failure.hint)).toContain('MCP_TUNNEL_HANDSHAKE_TIMEOUT_MS');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it('a wrong secret is reported as a wrong secret (permanent), with a hint', async () => {
    const gw = await gateway(ca.issue('gw'));
    const failure = await firstFailure(`${gw.url.replace(/^https/, 'wss')}/tunnel/corp`, randomBytes(32).toString('base64url'), { MCP_TUNNEL_CA_FILE: ca.caCert });
    expect(failure).toMatchObject({ code: 'TUNNEL_AUTH_FAILED', permanent: true, msg: 'tunnel connection refused permanently; retrying slowly' });
    expect(String(failure.reason)).toContain('wrong secret');
    expect(String(failure.hint)).toMatch(/^wrong secret: .*MCP_TUNNEL_SECRET_FILE/);
  });
});

describe('start-up problems are one line (child processes)', () => {
  it.each([
    ['not PEM', 'this is not a certificate\n', /caFile: must be a PEM file with at least one "-----BEGIN CERTIFICATE-----" block/],
    ['a private key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', /it holds a private key/],
    ['a broken certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', /certificate 1 in the file cannot be parsed/],
  ])('MCP_TUNNEL_CA_FILE that is %s: exit 2, one line', async (_name, text, message) => {
    const proxy = spawnCli(['proxy', '--url', 'wss://127.0.0.1:9/tunnel/corp'], {
      cleanEnv: true,
      env: { MCP_TUNNEL_SECRET: randomBytes(32).toString('base64url'), MCP_TUNNEL_CA_FILE: write('ca.pem', text) },
    });
    expect((await proxy.exited).code).toBe(2);
    expect(proxy.stderr).toHaveLength(1);
    expect(proxy.stderr[0]).toMatch(message);
  });

  it('an unreadable CA file: exit 2, one line', async () => {
    const proxy = spawnCli(['proxy', '--url', 'wss://127.0.0.1:9/tunnel/corp'], {
      cleanEnv: true,
      env: { MCP_TUNNEL_SECRET: randomBytes(32).toString('base64url'), MCP_TUNNEL_CA_FILE: path.join(dir, 'missing.pem') },
    });
    expect((await proxy.exited).code).toBe(2);
    expect(proxy.stderr.join('\n')).toMatch(/^mcp-tunnel: invalid configuration: caFile: file cannot be read \(ENOENT\)/);
  });

  it('port in use: one "failed to start" line with TUNNEL_LISTEN_FAILED and no stack trace, exit 2', async () => {
    const taken = net.createServer();
    servers.push(taken);
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    const config = write('gateway.json', JSON.stringify({ listen: { host: '127.0.0.1', port }, tunnels: [{ id: 'corp', secrets: [randomBytes(32).toString('base64url')] }] }));
    const gw = spawnCli(['gateway', '--config', config], { cleanEnv: true });
    expect((await gw.exited).code).toBe(2);
    const failed = gw.jsonLines().filter((e) => e.msg === 'failed to start');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ code: 'TUNNEL_LISTEN_FAILED', reason: `cannot listen on 127.0.0.1:${port}: the port is in use (another process listens there: stop it, or change listen.port)` });
    expect(gw.lines.map((l) => l.line).join('\n')).not.toMatch(/\n\s+at |"stack"/);
  });

  it('an expired or soon-expiring certificate is warned at load (gateway TLS, proxy CA)', async () => {
    // A certificate valid for one more day (openssl, not the code under test, makes it).
    execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'soon.key', '-out', 'soon.crt', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { cwd: dir, stdio: 'ignore' });
    const gw = await gateway({ cert: path.join(dir, 'soon.crt'), key: path.join(dir, 'soon.key') });
    const warn = await gw.proc.waitForJson((e) => e.code === 'TUNNEL_GATEWAY_TLS_EXPIRING');
    expect(warn).toMatchObject({ level: 40, msg: 'the TLS certificate expires soon' });
    expect(warn.daysLeft).toBeLessThanOrEqual(1);

    const proxy = spawnCli(['proxy', '--url', `${gw.url.replace(/^https/, 'wss')}/tunnel/corp`, '--secret-file', write('secret', gw.secret)], {
      cleanEnv: true,
      env: { MCP_TUNNEL_CA_FILE: path.join(dir, 'soon.crt') },
    });
    const pwarn = await proxy.waitForJson((e) => e.code === 'TUNNEL_CERT_EXPIRING');
    expect(pwarn).toMatchObject({ level: 40, setting: 'caFile' });
    await proxy.waitForJson((e) => e.msg === 'tunnel connected and authenticated');
  });
});
