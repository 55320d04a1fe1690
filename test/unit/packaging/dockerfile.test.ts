import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { MALLOC_ENV } from '../../../src/bench/shipped-env';

// No Docker engine runs on CI machines, so the image cannot be built here; pin its contract instead.
const dockerfile = readFileSync(join(__dirname, '../../../Dockerfile'), 'utf8');
const lines = dockerfile.split('\n').filter((l) => !l.trim().startsWith('#'));

describe('Dockerfile', () => {
  it('sets the allocator settings the bench runs with (src/bench/shipped-env.ts, D92)', () => {
    const runtime = lines.slice(lines.findIndex((l) => /^FROM .* AS runtime/.test(l))).join('\n');
    for (const [k, v] of Object.entries(MALLOC_ENV)) expect(runtime).toMatch(new RegExp(`^\\s*(ENV\\s+)?${k}=${v}\\b`, 'm'));
  });

  it('is multi-stage', () => {
    expect(lines.filter((l) => /^FROM\s/.test(l)).length).toBeGreaterThanOrEqual(2);
  });
  it('runs as a non-root user in the final stage', () => {
    const last = lines.slice(lines.map((l) => /^FROM\s/.test(l)).lastIndexOf(true));
    const user = last.filter((l) => /^USER\s/.test(l)).pop();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/USER\s+(root|0)\b/);
  });
  it('runs `mcp-tunnel proxy` by default and exposes no port', () => {
    expect(lines.some((l) => /^EXPOSE\b/.test(l))).toBe(false);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "\/app\/dist\/cli\/main\.js"\]/);
    expect(dockerfile).toMatch(/^CMD \["proxy"\]$/m);
  });

  const runtime = (): string[] => lines.slice(lines.map((l) => /^FROM\s/.test(l)).lastIndexOf(true));

  // Node LTS lines and their end of life (nodejs.org release schedule); the base must be in support
  // on the date the issue was judged against, 2026-12-06.
  it('builds on a Node LTS line that is in support', () => {
    const eol: Record<string, string> = { '22': '2027-04-30', '24': '2028-04-30', '26': '2029-04-30' };
    const image = /^ARG NODE_IMAGE=node:(\d+)-[a-z]+-slim$/m.exec(dockerfile);
    expect(image).not.toBeNull();
    expect(eol[image![1]!] ?? 'past end of life').toMatch(/^\d{4}-/);
    expect(eol[image![1]!]! > '2026-12-06').toBe(true);
    expect(lines.filter((l) => /^FROM\s/.test(l)).every((l) => l.startsWith('FROM ${NODE_IMAGE} AS '))).toBe(true);
  });

  it('installs production dependencies with `npm ci --omit=dev` and copies only them into the runtime', () => {
    expect(dockerfile).toMatch(/^RUN npm ci --omit=dev\b/m);
    expect(runtime().join('\n')).toMatch(/COPY --from=deps --chown=0:0 \/app\/node_modules \.\/node_modules/);
  });

  it('runs as a numeric non-root user (Kubernetes runAsNonRoot can verify it)', () => {
    expect(runtime().filter((l) => /^USER\s/.test(l)).pop()).toMatch(/^USER [1-9]\d*:[1-9]\d*$/);
  });

  it('has a HEALTHCHECK through `mcp-tunnel health` on the ops listener it turns on (loopback)', () => {
    expect(dockerfile).toMatch(/^\s+CMD \["node", "\/app\/dist\/cli\/main\.js", "health"\]$/m);
    expect(dockerfile).toMatch(/MCP_TUNNEL_OPS_LISTEN=127\.0\.0\.1:9464/);
  });

  it('carries the OCI labels, and the files it copies exist', () => {
    for (const k of ['title', 'description', 'licenses', 'version', 'revision', 'source']) expect(dockerfile).toContain(`org.opencontainers.image.${k}=`);
    expect(dockerfile).toContain('org.opencontainers.image.licenses="Apache-2.0"');
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(?:--chown=\S+ )?(.+) \S+$/gm)) {
      for (const f of m[1]!.split(' ')) expect([f, existsSync(join(__dirname, '../../..', f))]).toEqual([f, true]);
    }
  });
});

describe('compose.yaml', () => {
  // Compose reads YAML merge keys (<<: *hardening), as yaml's merge option does.
  const compose = parse(readFileSync(join(__dirname, '../../../compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
    secrets: Record<string, { file: string }>;
  };

  it('brings up gateway, proxy and a sample MCP server with one command', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['gateway', 'mcp-sample', 'proxy']);
    expect(compose.services['gateway']!['command']).toEqual(['gateway', '--config', '/etc/mcp-tunnel/gateway.json']);
    expect(compose.services['proxy']!['depends_on']).toMatchObject({ gateway: { condition: 'service_healthy' } });
  });

  it('hardens every service: read-only root, no capabilities, no new privileges', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      expect([name, s['read_only'], s['cap_drop'], s['security_opt']]).toEqual([name, true, ['ALL'], ['no-new-privileges:true']]);
    }
  });

  it('publishes only the gateway, on the host loopback, and passes the tunnel secret as a file', () => {
    expect(compose.services['gateway']!['ports']).toEqual(['127.0.0.1:8080:8080']);
    expect(compose.services['proxy']!['ports']).toBeUndefined();
    expect(compose.services['proxy']!['environment']).toMatchObject({ MCP_TUNNEL_SECRET_FILE: '/run/secrets/tunnel-secret' });
    expect(JSON.stringify(compose.services['proxy']!['environment'])).not.toMatch(/MCP_TUNNEL_SECRET"/);
  });

  it('its gateway config binds where a container needs it, and matches the proxy\'s secret and URL', () => {
    const gw = JSON.parse(readFileSync(join(__dirname, '../../../config/compose/gateway.json'), 'utf8'));
    expect(gw.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    const secret = readFileSync(join(__dirname, '../../..', compose.secrets['tunnel-secret']!.file), 'utf8').trim();
    expect(gw.tunnels).toEqual([{ id: 'corp', secrets: [secret] }]);
    expect(compose.services['proxy']!['environment']).toMatchObject({ MCP_TUNNEL_URL: 'ws://gateway:8080/tunnel/corp' });
    expect(gw.servers[0].url).toBe('http://mcp-sample:9000/mcp');
  });
});

