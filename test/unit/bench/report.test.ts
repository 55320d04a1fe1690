import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BEGIN, END, writeReport } from '../../../src/bench/report';
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
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'bench-report-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces only the text between the markers, keeping the hand-written parts', () => {
    const path = join(dir, 'benchmarks.md');
    writeFileSync(path, `# intro\n\n${BEGIN}\nold table\n${END}\n\n## after\n`);
    writeReport(path, 'new table');
    expect(readFileSync(path, 'utf8')).toBe(`# intro\n\n${BEGIN}\nnew table\n${END}\n\n## after\n`);
  });

  it('writes a whole file when there are no markers (a quick run into a temp file)', () => {
    const path = join(dir, 'quick.md');
    writeReport(path, 'table');
    expect(readFileSync(path, 'utf8')).toContain(`${BEGIN}\ntable\n${END}`);
  });
});
