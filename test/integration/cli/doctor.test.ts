import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { TestCa } from '../../helpers/certs';
import { closedPort } from '../../helpers/ports';
import { spawnCli, stopAllProcesses } from '../../helpers/process';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';

/**
 * `mcp-tunnel doctor` (issue 11, part 7): the built CLI (run `npm run build` first) against a real
 * TLS gateway with a test CA and the SDK upstream, in passing and failing setups.
 */

jest.setTimeout(60_000);

let ca: TestCa;
let otherCa: TestCa;
let upstream: StreamableUpstreamHandle;
let tlsGateway: Harness;
let plainGateway: Harness;

beforeAll(async () => {
  ca = new TestCa();
  otherCa = new TestCa('some-other-ca');
  const files = ca.issue('gateway');
  upstream = await startStreamableUpstream();
  tlsGateway = await startHarness({ servers: [{ name: 'notes', url: upstream.url }], startProxy: false, gateway: (c) => (c.tls = { cert: files.cert, key: files.key }) });
  plainGateway = await startHarness({ servers: [{ name: 'notes', url: upstream.url }], startProxy: false });
});

afterAll(async () => {
  await tlsGateway.close();
  await plainGateway.close();
  await upstream.close();
  ca.cleanup();
  otherCa.cleanup();
});

afterEach(() => stopAllProcesses());

const wss = (h: Harness): string => `${h.gateway.url.replace(/^https:\/\/127\.0\.0\.1/, 'wss://localhost')}/tunnel/corp`;

async function doctor(env: Record<string, string>, args: readonly string[] = []): Promise<{ code: number | null; out: string }> {
  const proc = spawnCli(['doctor', '--timeout-ms', '5000', ...args], { cleanEnv: true, env });
  const { code } = await proc.exited;
  return { code, out: [...proc.stdout, ...proc.stderr].join('\n') };
}

/** The report's line for `step` (mark, name, detail). */
function line(out: string, step: string): string {
  return out.split('\n').find((l) => new RegExp(`^[✓✗·-] ${step} `).test(l)) ?? `(no ${step} line in:\n${out})`;
}

describe('mcp-tunnel doctor (child processes)', () => {
  it('passes every step against a TLS gateway with the right CA, secret and upstream, and never prints the secret', async () => {
    const r = await doctor({ MCP_TUNNEL_URL: wss(tlsGateway), MCP_TUNNEL_SECRET: tlsGateway.secret, MCP_TUNNEL_CA_FILE: ca.caCert }, ['--upstream', `notes=${upstream.url}`]);
    expect(r.out).toMatch(/^✓ config +tunnel "corp" at wss:\/\/localhost:\d+\/tunnel\/corp, CA file /m);
    expect(line(r.out, 'secret')).toMatch(/^✓ secret +43 bytes, from MCP_TUNNEL_SECRET/);
    expect(line(r.out, 'dns')).toMatch(/^✓ dns +localhost → /);
    expect(line(r.out, 'tcp')).toMatch(/^✓ tcp +connected to /);
    expect(line(r.out, 'tls')).toMatch(/^✓ tls +certificate CN=localhost issued by CN=mcp-tunnel-test-ca, valid until .*; no pins set/);
    expect(line(r.out, 'websocket')).toMatch(/^✓ websocket +upgraded at wss:\/\/localhost:\d+\/tunnel\/corp/);
    expect(line(r.out, 'handshake')).toMatch(/^✓ handshake +authenticated to tunnel "corp" \(protocol \d+, connection [0-9a-f-]+, TLS channel binding\)/);
    expect(line(r.out, 'upstream notes')).toMatch(/^✓ upstream notes +http:\/\/127\.0\.0\.1:\d+\/mcp: HTTP [1-4]\d\d in \d+ ms/);
    expect(r.out).toContain('all checks passed');
    expect(r.out).not.toContain(tlsGateway.secret);
    expect(r.code).toBe(0);
  });

  it('reports a wrong secret as a wrong secret at the handshake (exit 1)', async () => {
    const r = await doctor({ MCP_TUNNEL_URL: wss(tlsGateway), MCP_TUNNEL_SECRET: 'w'.repeat(43), MCP_TUNNEL_CA_FILE: ca.caCert });
    expect(line(r.out, 'websocket')).toMatch(/^✓/);
    expect(line(r.out, 'handshake')).toMatch(/^✗ handshake +TUNNEL_AUTH_FAILED/);
    expect(r.out).toMatch(/hint: wrong secret: the gateway does not accept this secret for tunnel "corp"/);
    expect(r.code).toBe(1);
  });

  it('points at MCP_TUNNEL_CA_FILE when the chain does not verify (no CA file, or the wrong one), and skips what follows', async () => {
    const [none, wrong] = await Promise.all([
      doctor({ MCP_TUNNEL_URL: wss(tlsGateway), MCP_TUNNEL_SECRET: tlsGateway.secret }),
      doctor({ MCP_TUNNEL_URL: wss(tlsGateway), MCP_TUNNEL_SECRET: tlsGateway.secret, MCP_TUNNEL_CA_FILE: otherCa.caCert }),
    ]);
    for (const r of [none, wrong]) {
      expect(line(r.out, 'tcp')).toMatch(/^✓/);
      expect(line(r.out, 'tls')).toMatch(/^✗ tls +(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)/);
      expect(line(r.out, 'websocket')).toBe('- websocket  skipped (tls failed)');
      expect(line(r.out, 'handshake')).toBe('- handshake  skipped (tls failed)');
      expect(r.code).toBe(1);
    }
    expect(none.out).toContain('hint: the gateway\'s certificate is not signed by a CA this machine trusts: set MCP_TUNNEL_CA_FILE');
    expect(wrong.out).toContain(`is not signed by the CA in MCP_TUNNEL_CA_FILE (${otherCa.caCert})`);
  });

  it('tells a plain-HTTP port, a port nothing listens on, and an unreachable upstream apart', async () => {
    const plainPort = new URL(plainGateway.gateway.url).port;
    const [plain, refused, upstreamDown] = await Promise.all([
      doctor({ MCP_TUNNEL_URL: `wss://localhost:${plainPort}/tunnel/corp`, MCP_TUNNEL_SECRET: plainGateway.secret, MCP_TUNNEL_CA_FILE: ca.caCert }),
      closedPort().then((p) => doctor({ MCP_TUNNEL_URL: `wss://localhost:${p}/tunnel/corp`, MCP_TUNNEL_SECRET: plainGateway.secret })),
      closedPort().then((p) =>
        doctor({ MCP_TUNNEL_URL: `ws://127.0.0.1:${plainPort}/tunnel/corp`, MCP_TUNNEL_SECRET: plainGateway.secret }, ['--upstream', `notes=${upstream.url},down=http://127.0.0.1:${p}/mcp`]),
      ),
    ]);
    expect(line(plain.out, 'tls')).toMatch(/^✗ tls /);
    expect(plain.out).toContain(`hint: localhost:${plainPort} answered in plain HTTP, not TLS`);
    expect(plain.code).toBe(1);

    expect(line(refused.out, 'tcp')).toMatch(/^✗ tcp +127\.0\.0\.1:\d+: ECONNREFUSED|^✗ tcp +::1:\d+: ECONNREFUSED/);
    expect(refused.out).toContain('hint: connection refused: nothing listens on localhost:');
    expect(line(refused.out, 'tls')).toBe('- tls        skipped (tcp failed)');
    expect(refused.code).toBe(1);

    // ws:// on loopback: no TLS step; the tunnel is fine, one upstream is down.
    expect(line(upstreamDown.out, 'tls')).toMatch(/^· tls +ws:\/\/ — no TLS/);
    expect(line(upstreamDown.out, 'handshake')).toMatch(/^✓ handshake +authenticated to tunnel "corp" \(protocol \d+, connection [0-9a-f-]+\)$/);
    expect(line(upstreamDown.out, 'upstream notes')).toMatch(/^✓/);
    expect(line(upstreamDown.out, 'upstream down')).toMatch(/^✗ upstream down +http:\/\/127\.0\.0\.1:\d+\/mcp: TUNNEL_UPSTREAM_UNREACHABLE/);
    expect(upstreamDown.out).toContain('hint: nothing answers there');
    expect(upstreamDown.code).toBe(1);
  });

  it('a configuration problem fails the first step and skips the rest; bad flags exit 2', async () => {
    const r = await doctor({ MCP_TUNNEL_SECRET: plainGateway.secret }, ['--upstream', 'notes=http://127.0.0.1:9/mcp']);
    expect(line(r.out, 'config')).toMatch(/^✗ config +.*url/i);
    for (const step of ['secret', 'dns', 'tcp', 'tls', 'websocket', 'handshake', 'upstream notes']) expect(line(r.out, step)).toMatch(/^- .* skipped \(config failed\)$/);
    expect(r.code).toBe(1);
    expect((await doctor({}, ['--upstream', 'no-equals-sign'])).code).toBe(2);
    expect((await doctor({}, ['--bogus'])).code).toBe(2);
  });
});
