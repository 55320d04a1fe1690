import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { Recorder } from '../../../src/replay/recorder';
import { openConfiguredRecorder } from '../../../src/replay/open';

describe('openConfiguredRecorder', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-open-rec-'));
  });
  afterEach(() => {
    jest.restoreAllMocks();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hands record.queueBytes and record.maxFileBytes to the recorder', async () => {
    const open = jest.spyOn(Recorder, 'open');
    const file = path.join(dir, 'r.jsonl');
    const recorder = await openConfiguredRecorder(
      { file, servers: null, maxFileBytes: 1024 ** 2, queueBytes: 65_536, hmacKeyFile: null, redact: { headers: [], queryParams: [], pointers: [], patterns: [] } },
      'proxy',
      pino({ level: 'silent' }),
    );
    try {
      expect(recorder).toBeDefined();
      expect(open).toHaveBeenCalledWith(expect.objectContaining({ file, queueLimitBytes: 65_536, maxFileBytes: 1024 ** 2 }));
    } finally {
      await recorder?.close();
    }
  });
});
