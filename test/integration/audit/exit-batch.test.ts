/**
 * The synchronous audit file coalesces each turn's records into one write at the end of the turn
 * (D75); a process that exits in that turn, normally or on an uncaught exception, still has them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnTs, stopProcessesAfterEach } from '../../helpers/process';
import { tempDirEach } from '../../helpers/temp-dir';

stopProcessesAfterEach();

describe('synchronous audit file: records of the last turn', () => {
  const tmp = tempDirEach('audit-exit-');

  it.each([
    ['process.exit', 'exit', 0],
    ['an uncaught exception', 'throw', 1],
  ])('are in the file after %s in the turn that wrote them', async (_name, how, code) => {
    const file = join(tmp.path, 'audit.log');
    const child = spawnTs('test/fixtures/audit/exit-in-turn.ts', [file, how]);
    expect((await child.exited).code).toBe(code);
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n').map((l) => JSON.parse(l) as { rid: string; seq: number });
    expect(lines.map((l) => [l.rid, l.seq])).toEqual([
      ['r-1', 1],
      ['r-2', 2],
      ['r-3', 3],
    ]);
  });
});
