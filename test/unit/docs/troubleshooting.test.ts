import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '../../..');

// docs/operations.md "Troubleshooting" maps each error code an operator can meet to its cause and
// fix (issue 11 part 8): a code added to docs/errors.md without a row there fails here.
describe('docs/operations.md Troubleshooting', () => {
  it('names every TUNNEL_* code documented in docs/errors.md', () => {
    const errors = readFileSync(join(root, 'docs/errors.md'), 'utf8');
    const ops = readFileSync(join(root, 'docs/operations.md'), 'utf8');
    const at = ops.indexOf('## Troubleshooting');
    expect(at).toBeGreaterThan(0);
    const next = ops.indexOf('\n## ', at + 1);
    const section = ops.slice(at, next < 0 ? undefined : next);
    const codes = new Set([...errors.matchAll(/`(TUNNEL_[A-Z0-9_]+)`/g)].map((m) => m[1]!));
    expect(codes.size).toBeGreaterThan(100);
    expect([...codes].filter((c) => !section.includes(`\`${c}\``))).toEqual([]);
  });

  it('each table row has a cause and a fix', () => {
    const ops = readFileSync(join(root, 'docs/operations.md'), 'utf8');
    const section = ops.slice(ops.indexOf('## Troubleshooting'));
    const rows = section.split('\n').filter((l) => l.startsWith('| `') || l.startsWith('| no tunnels'));
    expect(rows.length).toBeGreaterThan(30);
    for (const row of rows) expect({ row, cells: row.split(' | ').filter((c) => c.trim() !== '').length >= 3 }).toEqual({ row, cells: true });
  });
});
