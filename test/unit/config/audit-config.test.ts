import { loadGatewayConfig, loadProxyConfig } from '../../../src/config';
import { configError, tempDir } from './helpers';

const SECRET = 'audit-config-test-secret-0123456789abcdef';
const proxyEnv = { MCP_TUNNEL_URL: 'wss://gw.example.com/tunnel/corp', MCP_TUNNEL_SECRET: SECRET };

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  tmp.cleanup();
});

describe('audit.* configuration (gateway and proxy, same shape)', () => {
  it('defaults: no checkpoint key, every 1000 records / 60 s', () => {
    const expected = { destination: 'stdout', sync: true, hmacKeyFile: null, signingKeyFile: null, checkpoint: { every: 1000, intervalMs: 60000 }, bodies: { enabled: false, maxBytes: 65536, redact: [] } };
    expect(loadGatewayConfig({ env: {} }).audit).toEqual(expected);
    expect(loadProxyConfig({ env: proxyEnv }).audit).toEqual(expected);
  });

  it('reads the env vars', () => {
    const key = tmp.write('audit.key', 'k'.repeat(32));
    const env = {
      MCP_TUNNEL_AUDIT: '/var/log/audit.log',
      MCP_TUNNEL_AUDIT_HMAC_KEY_FILE: key,
      MCP_TUNNEL_AUDIT_CHECKPOINT_EVERY: '10',
      MCP_TUNNEL_AUDIT_CHECKPOINT_INTERVAL_MS: '0',
      MCP_TUNNEL_AUDIT_BODIES: 'true',
      MCP_TUNNEL_AUDIT_BODIES_MAX_BYTES: '1024',
      MCP_TUNNEL_AUDIT_BODIES_REDACT: 'params.arguments.password, result.content.*.text',
      MCP_TUNNEL_AUDIT_SYNC: 'false',
    };
    const expected = {
      destination: '/var/log/audit.log',
      sync: false,
      hmacKeyFile: key,
      signingKeyFile: null,
      checkpoint: { every: 10, intervalMs: 0 },
      bodies: { enabled: true, maxBytes: 1024, redact: ['params.arguments.password', 'result.content.*.text'] },
    };
    expect(loadGatewayConfig({ env }).audit).toEqual(expected);
    expect(loadProxyConfig({ env: { ...proxyEnv, ...env } }).audit).toEqual(expected);
  });

  it('resolves key files relative to the config file', () => {
    const key = tmp.write('keys/audit.pem', 'PEM');
    const file = tmp.write('gateway.json', { audit: { signingKeyFile: 'keys/audit.pem', checkpoint: { every: 0 } } });
    expect(loadGatewayConfig({ file, env: {} }).audit).toMatchObject({ signingKeyFile: key, checkpoint: { every: 0, intervalMs: 60000 } });
  });

  it('refuses both keys, an unreadable key file and a negative count', () => {
    const key = tmp.write('audit.key', 'k'.repeat(32));
    const both = configError(() => loadGatewayConfig({ env: { MCP_TUNNEL_AUDIT_HMAC_KEY_FILE: key, MCP_TUNNEL_AUDIT_SIGNING_KEY_FILE: key } }));
    expect(both.key).toBe('audit.signingKeyFile');
    const missing = configError(() => loadProxyConfig({ env: { ...proxyEnv, MCP_TUNNEL_AUDIT_HMAC_KEY_FILE: `${tmp.dir}/nope` } }));
    expect(missing.key).toBe('audit.hmacKeyFile');
    expect(configError(() => loadGatewayConfig({ env: { MCP_TUNNEL_AUDIT_CHECKPOINT_EVERY: '-1' } })).key).toBe('audit.checkpoint.every');
    expect(configError(() => loadGatewayConfig({ env: { MCP_TUNNEL_AUDIT_BODIES_REDACT: 'params..x' } })).key).toMatch(/^audit\.bodies\.redact/);
  });
});
