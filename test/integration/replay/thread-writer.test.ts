/**
 * The recorder's worker-thread writer (built code only: the worker is `dist/replay/writer-worker.js`;
 * `npm run build` first). A child process records through it; the file must read back with the
 * same exchange, redacted, with a footer, and validate against the schema.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { REPO_ROOT, spawnProcess, stopProcessesAfterEach } from '../../helpers/process';
import { loadRecording, RECORDING_LINE_SCHEMA } from '../../../src/replay';

const SCRIPT = `
const { Recorder } = require(process.argv[1] + '/dist/replay');
(async () => {
  const r = await Recorder.open({ file: process.argv[2], side: 'test', thread: true, maxFileBytes: 4096 });
  for (let i = 0; i < 20; i++) {
    const t = r.exchange({ id: 'x' + i, server: 'notes' });
    t.requestHead({ method: 'POST', path: '/mcp/notes', headers: [['authorization', 'Bearer sk-live-secret'], ['content-type', 'application/json']] });
    t.requestChunk(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x'.repeat(100) } } })));
    t.responseHead({ status: 200, headers: [['content-type', 'text/event-stream']] });
    t.responseChunk(Buffer.from('event: message\\ndata: {"jsonrpc":"2.0","id":' + i + ',"result":{}}\\n\\n'));
    t.end();
    await r.drain(); // one batch per exchange, so the size cap is crossed between writes
  }
  await r.close();
})();
`;

describe('recorder writer thread', () => {
  let dir: string;
  stopProcessesAfterEach();
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-thread-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes what the traffic thread queued, redacted, rotating at the size cap, footers included', async () => {
    const file = join(dir, 'thread.jsonl');
    const child = spawnProcess(process.execPath, ['-e', SCRIPT, REPO_ROOT, file]);
    expect(await child.exited).toEqual({ code: 0, signal: null });
    const rec = await loadRecording(file);
    expect(rec.exchanges.map((x) => x.id)).toEqual(Array.from({ length: 20 }, (_, i) => `x${i}`));
    expect(rec.exchanges.every((x) => x.response?.sse?.length === 1 && x.end.type === 'end')).toBe(true);
    expect(rec.footers.length).toBeGreaterThan(1); // rotated at 4 KiB
    expect(rec.footers.at(-1)).toMatchObject({ counts: { exchanges: 20 }, dropped: { events: 0 } });
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('sk-live-secret');
    const validate = new Ajv({ strict: false }).compile(RECORDING_LINE_SCHEMA);
    for (const line of text.trim().split('\n')) expect(validate(JSON.parse(line))).toBe(true);
  });
});
