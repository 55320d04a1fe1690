import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeProxySchema, loadGatewayConfig, loadProxyConfig } from '../../../src/config';
import { configError, tempDir } from './helpers';

const EXAMPLES = path.resolve(__dirname, '../../../config');

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(() => {
  tmp.cleanup();
});

describe('config/gateway.json', () => {
  const text = fs.readFileSync(path.join(EXAMPLES, 'gateway.json'), 'utf8');

  it('cannot run with its placeholder secrets', () => {
    tmp.write('gateway.crt', 'CERT');
    tmp.write('gateway.key', 'KEY');
    const file = tmp.write('gateway.json', text);
    const err = configError(() => loadGatewayConfig({ file, env: {} }));
    expect(err.key).toBe('tunnels[0].secrets[0]');
    expect(err.problem).toMatch(/placeholder/);
  });

  it('is valid once the placeholders are replaced', () => {
    const crt = tmp.write('gateway.crt', 'CERT');
    const key = tmp.write('gateway.key', 'KEY');
    let n = 0;
    const file = tmp.write('gateway.json', text.replace(/CHANGE-ME[A-Za-z0-9-]*/g, () => `generated-secret-0123456789abcdefghijk-${n++}`));
    const config = loadGatewayConfig({ file, env: {} });
    expect(config.tls).toEqual({ cert: crt, key });
    expect(config.tunnels[0]?.secrets).toHaveLength(2);
    expect(config.servers[0]?.url).toMatch(/^http:\/\/127\.0\.0\.1:/);
    expect(config.clients[0]?.servers).toEqual(['notes']);
  });
});

describe('config/proxy.env', () => {
  const lines = fs.readFileSync(path.join(EXAMPLES, 'proxy.env'), 'utf8').split('\n');

  it('mentions only real env vars', () => {
    const known = new Set(describeProxySchema().map((r) => r.env));
    const mentioned = lines.flatMap((l) => /^#?(MCP_TUNNEL_[A-Z_]+)=/.exec(l)?.slice(1) ?? []);
    expect(mentioned.length).toBeGreaterThan(10);
    for (const name of mentioned) expect(known).toContain(name);
  });

  it('is a valid proxy config once the secret file exists', () => {
    const env: NodeJS.ProcessEnv = {};
    for (const line of lines) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line);
      if (m?.[1] !== undefined) env[m[1]] = m[2];
    }
    expect(Object.keys(env).sort()).toEqual(['MCP_TUNNEL_SECRET_FILE', 'MCP_TUNNEL_URL']);
    const secretFile = tmp.write('tunnel-secret', 'a-real-secret-value-0123456789abcdefghijk\n');
    const config = loadProxyConfig({ env, overrides: { secretFile } });
    expect(config.tunnelId).toBe('corp');
    expect(config.url.startsWith('wss://')).toBe(true);
  });
});
