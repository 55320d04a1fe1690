/** The `mcp-tunnel replay …` subcommands through the built CLI (`npm run build` first). */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startStreamableUpstream } from '../../fixtures/mcp-upstream';
import { connectClient } from '../../helpers';
import { spawnCli, stopProcessesAfterEach } from '../../helpers/process';
import { spawnReplayServe } from '../../helpers/replay-suite';
import { loadRecording } from '../../../src/replay';

const FIXTURE = join(__dirname, '../../fixtures/recordings/sdk-suite.jsonl');

describe('mcp-tunnel replay (CLI)', () => {
  let dir: string;
  stopProcessesAfterEach();
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-cli-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('export writes HAR 1.2 and exits 0; usage errors exit 2', async () => {
    const out = join(dir, 'suite.har');
    const exported = spawnCli(['replay', 'export', FIXTURE, '--har', out]);
    expect((await exported.exited).code).toBe(0);
    const har = JSON.parse(await readFile(out, 'utf8')) as { log: { version: string; entries: unknown[] } };
    expect(har.log.version).toBe('1.2');
    expect(har.log.entries.length).toBeGreaterThan(5);

    const noTarget = spawnCli(['replay', 'run', FIXTURE]);
    expect((await noTarget.exited).code).toBe(2);
    expect(noTarget.stderr.join('\n')).toContain('--target URL is required');
    const unknown = spawnCli(['replay', 'rewind', FIXTURE]);
    expect((await unknown.exited).code).toBe(2);
  });

  it('run against `replay serve` of the same recording reports no difference (exit 0) and writes the JSON and JUnit reports', async () => {
    const served = await spawnReplayServe(FIXTURE);
    const report = join(dir, 'report.json');
    const junit = join(dir, 'junit.xml');
    const run = spawnCli(['replay', 'run', FIXTURE, '--target', served.urls.get('notes')!, '--report', report, '--junit', junit]);
    const exit = await run.exited;
    expect({ code: exit.code, out: run.stdout.join('\n') }).toMatchObject({ code: 0 });
    const rep = JSON.parse(await readFile(report, 'utf8')) as { summary: { breaking: number } };
    expect(rep.summary.breaking).toBe(0);
    expect(await readFile(junit, 'utf8')).toContain('<testsuite');
    served.proc.child.kill('SIGTERM');
    expect((await served.proc.exited).code).toBe(0);
  });

  it('gateway --record and proxy --record record the same exchanges (same rid), redacted, closed with a footer on SIGTERM', async () => {
    const upstream = await startStreamableUpstream();
    try {
      const secret = randomBytes(32).toString('base64url');
      const apiKey = randomBytes(24).toString('base64url');
      const gwFile = join(dir, 'gw.jsonl');
      const pxFile = join(dir, 'px.jsonl');
      const gateway = spawnCli(['gateway', '--record', gwFile], {
        cleanEnv: true,
        env: {
          MCP_TUNNEL_LISTEN_PORT: '0',
          MCP_TUNNEL_TUNNELS: JSON.stringify([{ id: 'corp', secrets: [secret] }]),
          MCP_TUNNEL_SERVERS: JSON.stringify([{ name: 'notes', tunnel: 'corp', url: upstream.url }]),
          MCP_TUNNEL_CLIENTS: JSON.stringify([{ name: 'alice', apiKey, servers: ['notes'] }]),
        },
      });
      const url = String((await gateway.waitForJson((e) => e.msg === 'gateway listening')).url);
      const proxy = spawnCli(['proxy', '--url', `${url.replace(/^http/, 'ws')}/tunnel/corp`, '--record', pxFile], { cleanEnv: true, env: { MCP_TUNNEL_SECRET: secret } });
      await proxy.waitForJson((e) => e.msg === 'tunnel connected and authenticated');
      const c = await connectClient(`${url}/mcp/notes`, { headers: { authorization: `Bearer ${apiKey}` } });
      await c.client.callTool({ name: 'echo', arguments: { text: 'via the CLI' } });
      await c.close();
      expect(await proxy.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });
      expect(await gateway.stop({ signal: 'SIGTERM' })).toEqual({ code: 0, signal: null });

      const [gw, px] = [await loadRecording(gwFile), await loadRecording(pxFile)];
      expect([gw.header.recorder.side, px.header.recorder.side]).toEqual(['gateway', 'proxy']);
      expect([gw.footers.length, px.footers.length]).toEqual([1, 1]);
      const echo = (x: { request: { body: Buffer } }): boolean => x.request.body.toString('utf8').includes('via the CLI');
      expect(gw.exchanges.filter(echo).map((x) => x.id)).toEqual(px.exchanges.filter(echo).map((x) => x.id));
      expect(gw.exchanges.filter(echo)).toHaveLength(1);
      for (const f of [gwFile, pxFile]) expect(await readFile(f, 'utf8')).not.toContain(apiKey);
    } finally {
      await upstream.close();
    }
  });
});
