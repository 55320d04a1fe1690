import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDirEach } from '../../helpers/temp-dir';
import { benchOptions } from '../../../src/bench/options';
import { BEGIN, END, FLOOR, targetsTable, writeReport } from '../../../src/bench/report';
import { Results } from '../../../src/bench/scenarios';
import { median, percentile } from '../../../src/bench/stats';

describe('bench statistics', () => {
  it('percentile is nearest-rank over an ascending array', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 0.5)).toBe(50);
    expect(percentile(xs, 0.99)).toBe(99);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBe(0);
  });

  it('median of odd and even counts, any order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('writeReport', () => {
  const dir = tempDirEach('bench-report-');

  it('replaces only the text between the markers, keeping the hand-written parts', () => {
    const path = join(dir.path, 'benchmarks.md');
    writeFileSync(path, `# intro\n\n${BEGIN}\nold table\n${END}\n\n## after\n`);
    writeReport(path, 'new table');
    expect(readFileSync(path, 'utf8')).toBe(`# intro\n\n${BEGIN}\nnew table\n${END}\n\n## after\n`);
  });

  it('writes a whole file when there are no markers (a quick run into a temp file)', () => {
    const path = join(dir.path, 'quick.md');
    writeReport(path, 'table');
    expect(readFileSync(path, 'utf8')).toContain(`${BEGIN}\ntable\n${END}`);
  });
});

describe('targetsTable', () => {
  const MiB = 2 ** 20;
  const results = (withFloor: boolean): Results => {
    const r = new Results();
    r.add('post1.rps', 'direct', 10_000);
    r.add('post128.rps', 'direct', 30_000);
    r.add('post1.rps', 'tunnel', 700);
    r.add('post128.rps', 'tunnel', 3_600);
    r.add('post128.cpu', 'tunnel', 380);
    r.add('idleSettled:gateway', 'tunnel', 57 * MiB);
    r.add('idleSettled:proxy', 'tunnel', 59 * MiB);
    r.add('restart.agent', 'tunnel', 330);
    if (withFloor) {
      r.add('post1.rps', FLOOR, 2_000);
      r.add('post128.rps', FLOOR, 15_000);
      r.add('post128.cpu', FLOOR, 110);
      // The floor's process groups have other names; the per-process target takes the largest.
      r.add('idleSettled:outside', FLOOR, 50 * MiB);
      r.add('idleSettled:inside', FLOOR, 56 * MiB);
    }
    return r;
  };
  const row = (table: string, start: string): string => table.split('\n').find((l) => l.startsWith(`| ${start}`)) ?? '';

  it('gives the Node floor its own column, each target measured and judged on it', () => {
    const table = targetsTable(results(true), benchOptions());
    expect(table.split('\n')[0]).toContain('node floor, same run');
    expect(row(table, 'CPU per 1,000 POSTs')).toBe('| CPU per 1,000 POSTs, gateway + proxy ≤ 120 ms | 380.0 | **not met** | 110.0 (met) |');
    expect(row(table, 'POST c=128 ≥ 0.45×')).toBe('| POST c=128 ≥ 0.45× direct | 0.12× | **not met** | 0.50× (met) |');
    expect(row(table, 'idle RSS')).toContain('| 59 MiB (largest;');
    expect(row(table, 'idle RSS')).toContain('| 56 MiB (largest;');
    // Measured on the tunnel only: the floor's cell says so.
    expect(row(table, 'proxy restart')).toBe('| proxy restart → first successful request ≤ 300 ms | 330.0 | **not met** | – |');
  });

  it('has no floor column when the floor did not run', () => {
    const table = targetsTable(results(false), benchOptions());
    expect(table).not.toContain('node floor');
    expect(row(table, 'CPU per 1,000 POSTs')).toBe('| CPU per 1,000 POSTs, gateway + proxy ≤ 120 ms | 380.0 | **not met** |');
  });
});
