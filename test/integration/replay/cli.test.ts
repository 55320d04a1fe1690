/** The `mcp-tunnel replay …` subcommands through the built CLI (`npm run build` first). */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli, stopProcessesAfterEach } from '../../helpers/process';
import { spawnReplayServe } from '../../helpers/replay-suite';

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
});
