import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { concernsWatchedFile, watchFileChanges } from '../../../src/config';
import { waitFor } from '../../helpers';

describe('concernsWatchedFile', () => {
  it('accepts the file itself, Kubernetes ..data swaps and unnamed events; ignores other files', () => {
    expect(concernsWatchedFile(['secret'], 'secret')).toBe(true);
    expect(concernsWatchedFile(['secret'], Buffer.from('secret'))).toBe(true);
    expect(concernsWatchedFile(['secret'], '..data')).toBe(true);
    expect(concernsWatchedFile(['secret'], '..2026_12_06_13_40_00.123456789')).toBe(true);
    expect(concernsWatchedFile(['secret'], null)).toBe(true);
    expect(concernsWatchedFile(['secret'], undefined)).toBe(true);
    expect(concernsWatchedFile(['secret'], 'audit.log')).toBe(false);
    expect(concernsWatchedFile(['secret'], '.secret.swp')).toBe(false);
    expect(concernsWatchedFile(['secret'], 'secret~')).toBe(false);
    expect(concernsWatchedFile(['cert.pem', 'key.pem'], 'key.pem')).toBe(true);
  });
});

describe('watchFileChanges (real fs.watch)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-watch-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ignores writes to other files in the folder and emits for the file renamed over', async () => {
    const file = path.join(dir, 'gateway.json');
    fs.writeFileSync(file, '{}');
    let emitted = 0;
    let rawEvents = 0;
    const sub = watchFileChanges(file, { debounceMs: 1 }).subscribe(() => emitted++);
    const raw = fs.watch(dir, { persistent: false }, () => rawEvents++);
    try {
      // A busy neighbour (an audit trail next to the config): its events reach the folder's watchers ...
      for (let i = 0; i < 20; i++) fs.appendFileSync(path.join(dir, 'audit.log'), `line ${i}\n`);
      await waitFor(() => rawEvents >= 1);
      // ... and an unfiltered watcher would emit 1 ms later; give it ample time to show (proving an
      // absence takes a wait; a slow machine can only make this pass less strictly, never flake).
      await new Promise<void>((resolve) => setTimeout(resolve, 50));
      expect(emitted).toBe(0);
      // The file itself, replaced by rename as editors and `mv` do: an emission.
      fs.writeFileSync(path.join(dir, 'gateway.json.tmp'), '{"a":1}');
      fs.renameSync(path.join(dir, 'gateway.json.tmp'), file);
      await waitFor(() => emitted >= 1);
    } finally {
      raw.close();
      sub.unsubscribe();
    }
  });
});
