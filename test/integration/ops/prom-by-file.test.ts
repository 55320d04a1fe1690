import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Metrics } from '../../../src/ops/metrics';
import { REPO_ROOT } from '../../helpers/process';

/** The value of an unlabelled sample in Prometheus text. */
function sample(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (m === null) throw new Error(`no sample ${name}`);
  return Number(m[1]);
}

describe('prom-client by file (D80)', () => {
  it('exports the process CPU counters prom-client defines, growing with the CPU used', async () => {
    const m = new Metrics({ version: 't', role: 'proxy' });
    const first = await m.registry.metrics();
    // Burn 30 ms of this process's CPU, counted by CPU time (not the wall clock: a busy machine
    // deschedules the loop, and 30 ms of wall time can be 10 ms of CPU).
    const start = process.cpuUsage();
    for (let used = 0; used < 30_000; ) {
      const d = process.cpuUsage(start);
      used = d.user + d.system;
    }
    const second = await m.registry.metrics();
    for (const name of ['process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total']) {
      expect(second).toContain(`# TYPE ${name} counter`);
    }
    const grew = sample(second, 'process_cpu_seconds_total') - sample(first, 'process_cpu_seconds_total');
    expect(grew).toBeGreaterThan(0.02);
    const parts = sample(second, 'process_cpu_user_seconds_total') + sample(second, 'process_cpu_system_seconds_total');
    expect(sample(second, 'process_cpu_seconds_total')).toBeCloseTo(parts, 6);
    expect(second).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(second).toContain('# TYPE process_start_time_seconds gauge');
  });

  it('does not load @opentelemetry/api (prom-client needs it only for exemplars)', () => {
    const child = `
const { Metrics } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'ops', 'metrics'))});
new Metrics({ version: 't', role: 'gateway' });
console.log(Object.keys(require.cache).some((f) => f.includes('/node_modules/@opentelemetry/')));
`;
    expect(execFileSync(process.execPath, ['-e', child], { encoding: 'utf8' }).trim()).toBe('false');
  });
});
