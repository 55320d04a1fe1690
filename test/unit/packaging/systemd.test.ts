import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MALLOC_ENV } from '../../../src/bench/shipped-env';

const dir = join(__dirname, '../../../config/systemd');
const UNITS = ['mcp-tunnel-proxy.service', 'mcp-tunnel-gateway.service'];

/** The [Service] directives of a unit: name → every value given, in order. */
function serviceSection(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const line of readFileSync(join(dir, unit), 'utf8').split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const s = /^\[(.+)\]$/.exec(t);
    if (s) section = s[1]!;
    else if (section === 'Service') {
      const i = t.indexOf('=');
      out.set(t.slice(0, i), [...(out.get(t.slice(0, i)) ?? []), t.slice(i + 1)]);
    }
  }
  return out;
}

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
const haveAnalyze = analyze.status === 0 && Number(/systemd (\d+)/.exec(analyze.stdout)?.[1] ?? 0) >= 250; // --offline: 250+

describe.each(UNITS)('config/systemd/%s', (unit) => {
  const d = serviceSection(unit);
  const one = (k: string): string | undefined => d.get(k)?.at(-1);

  it('is a notify service with a watchdog that restarts on failure', () => {
    expect([one('Type'), one('NotifyAccess'), one('Restart')]).toEqual(['notify', 'main', 'on-failure']);
    expect(one('WatchdogSec')).toMatch(/^\d+s$/);
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
  });

  it('carries the hardening the issue lists', () => {
    for (const [k, v] of Object.entries({
      DynamicUser: 'yes',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      PrivateDevices: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      CapabilityBoundingSet: '',
      AmbientCapabilities: '',
    })) {
      expect([k, one(k)]).toEqual([k, v]);
    }
    expect(d.get('SystemCallFilter')?.[0]).toBe('@system-service');
  });

  it('sets the allocator settings the bench runs with (src/bench/shipped-env.ts, D92)', () => {
    for (const [k, v] of Object.entries(MALLOC_ENV)) expect(d.get('Environment')).toContain(`${k}=${v}`);
  });

  it('gets its secrets through LoadCredential=, never Environment=', () => {
    const creds = d.get('LoadCredential') ?? [];
    expect(creds.length).toBeGreaterThan(0);
    for (const c of creds) expect(c).toMatch(/^[\w.-]+:\/etc\/mcp-tunnel\/[\w.-]+$/);
    for (const e of d.get('Environment') ?? []) expect(e).not.toMatch(/SECRET=|API_KEY/);
    if (unit.includes('proxy')) expect(d.get('Environment')).toContain('MCP_TUNNEL_SECRET_FILE=%d/tunnel-secret');
    else expect(one('ExecStart')).toBe('/usr/local/bin/mcp-tunnel gateway --config %d/gateway.json');
  });

  (haveAnalyze ? it : it.skip)('`systemd-analyze security --offline=yes` rates it 2.0 or lower', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--threshold=20', unit], { cwd: dir, encoding: 'utf8' });
    const score = Number(/Overall exposure level for \S+: (\d+\.\d+)/.exec(r.stdout)?.[1]);
    expect({ status: r.status, score: score <= 2.0 }).toEqual({ status: 0, score: true });
  });

  (haveAnalyze ? it : it.skip)('`systemd-analyze verify` finds nothing wrong (with ExecStart pointed at a binary that exists here)', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'units-'));
    try {
      const text = readFileSync(join(dir, unit), 'utf8').replaceAll('/usr/local/bin/mcp-tunnel', process.execPath);
      writeFileSync(join(tmp, unit), text);
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', join(tmp, unit)], { encoding: 'utf8' });
      expect({ status: r.status, out: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, out: '' });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
