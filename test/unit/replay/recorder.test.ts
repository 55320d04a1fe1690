import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Ajv from 'ajv';
import { loadRecording, parseLines, Recorder, RECORDING_LINE_SCHEMA, type ExchangeTap } from '../../../src/replay';
import { tempDirEach } from '../../helpers/temp-dir';

const ROOT = join(__dirname, '../../..');

/** The schema block of docs/replay.md (between the `recording-schema` markers). */
async function docSchema(): Promise<unknown> {
  const doc = await readFile(join(ROOT, 'docs/replay.md'), 'utf8');
  const m = /<!-- recording-schema -->\s*```json\n([\s\S]*?)```/.exec(doc);
  if (m === null) throw new Error('docs/replay.md has no recording-schema block');
  return JSON.parse(m[1]!) as unknown;
}

async function validateFile(file: string): Promise<void> {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(await docSchema() as object);
  const { lines, truncated } = parseLines(await readFile(file, 'utf8'), file);
  expect(truncated).toBe(false);
  for (const l of lines) {
    if (!validate(l)) throw new Error(`${JSON.stringify(l).slice(0, 200)}: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  }
}

function exchange(tap: ExchangeTap, opts: { auth?: string; body?: string; sse?: string[] } = {}): void {
  tap.requestHead({
    method: 'POST',
    path: '/mcp/notes?api_key=QUERYKEY123&x=1',
    headers: [
      ['content-type', 'application/json'],
      ['authorization', opts.auth ?? 'Bearer TOPSECRET-1'],
      ['cookie', 'sid=COOKIESECRET'],
      ['x-api-key', 'APIKEYSECRET'],
      ['x-internal-token', 'INTERNALSECRET'],
    ],
  });
  tap.requestChunk(Buffer.from(opts.body ?? '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"login",'));
  tap.requestChunk(Buffer.from('"arguments":{"password":"PASSWORDSECRET","note":"key sk-ABCDEFGH1234"}}}'));
  tap.responseHead({ status: 200, headers: { 'content-type': 'text/event-stream', 'set-cookie': ['a=SETCOOKIESECRET'] } });
  for (const c of opts.sse ?? ['id: 1\nretry: 500\ndata: \n\n: keep-alive\n\nevent: message\ndata: {"jsonrpc":"2.0","id":1,', '"result":{"t":"sk-ZYXWVUTS9876 é"}}\n\n']) {
    tap.responseChunk(Buffer.from(c));
  }
  tap.end();
}

describe('Recorder', () => {
  const tmp = tempDirEach('recorder-');

  it('docs/replay.md embeds the schema the code exports, and recordings (the fixtures too) validate against it', async () => {
    expect(await docSchema()).toEqual(RECORDING_LINE_SCHEMA);
    const file = join(tmp.path, 'r.jsonl');
    const rec = await Recorder.open({ file, side: 'gateway' });
    exchange(rec.exchange({ id: 'r1', server: 'notes' }));
    await rec.close();
    await validateFile(file);
    const fixtures = join(ROOT, 'test/fixtures/recordings');
    // pipeline-*.jsonl are pipeline recordings (their own format, docs/replay.md "Deterministic replay").
    for (const f of await readdir(fixtures)) if (!f.startsWith('pipeline-')) await validateFile(join(fixtures, f));
  });

  it('never writes a configured secret or key: keyed-HMAC placeholders, the same for the same secret, each marked', async () => {
    const file = join(tmp.path, 'r.jsonl');
    const key = 'RECORDING-HMAC-KEY-0123456789';
    const rec = await Recorder.open({
      file,
      side: 'proxy',
      redaction: { key, headers: ['X-Internal-Token'], pointers: ['/params/arguments/password'], patterns: ['sk-[A-Za-z0-9]{8,}'] },
    });
    exchange(rec.exchange({ id: 'r1', server: 'notes' }));
    exchange(rec.exchange({ id: 'r2', server: 'notes' }));
    await rec.close();
    const text = await readFile(file, 'utf8');
    for (const secret of ['TOPSECRET-1', 'COOKIESECRET', 'APIKEYSECRET', 'INTERNALSECRET', 'QUERYKEY123', 'PASSWORDSECRET', 'sk-ABCDEFGH1234', 'sk-ZYXWVUTS9876', 'SETCOOKIESECRET', key]) {
      expect(text).not.toContain(secret);
    }
    const recording = await loadRecording(file);
    const [a, b] = recording.exchanges;
    const auth = (i: number): string | undefined => recording.exchanges[i]!.request.headers.find(([n]) => n === 'authorization')?.[1];
    expect(auth(0)).toMatch(/^REDACTED-hmac-[A-Za-z0-9_-]{22}$/);
    expect(auth(0)).toBe(auth(1));
    expect(a!.request.body.toString()).toBe(b!.request.body.toString());
    const head = text.split('\n').map((l) => JSON.parse(l || 'null') as { type?: string; redacted?: string[] } | null);
    expect(head.find((l) => l?.type === 'request-head')?.redacted).toEqual(
      expect.arrayContaining(['header:authorization', 'header:cookie', 'header:x-api-key', 'header:x-internal-token', 'query:api_key']),
    );
    expect(head.find((l) => l?.type === 'request-body')?.redacted).toEqual(['/params/arguments/password', 'pattern:0']);
    expect(recording.exchanges[0]!.response!.sse!.find((e) => e.data?.includes('result'))?.redacted).toEqual(['pattern:0']);
  });

  it('keeps JSON-RPC bytes exact and parses SSE into fields (split events and characters, comments, retry, empty data)', async () => {
    const file = join(tmp.path, 'r.jsonl');
    const rec = await Recorder.open({ file, side: 'test' });
    const body = '{ "jsonrpc":"2.0", "id":7,\n "method":"ping" }';
    const tap = rec.exchange({ id: 'r1', server: 's', session: null });
    tap.requestHead({ method: 'POST', path: '/mcp', headers: { 'content-type': 'application/json' } });
    tap.requestChunk(Buffer.from(body));
    const e = Buffer.from('data: é\n\n');
    tap.responseHead({ status: 200, headers: ['Content-Type', 'text/event-stream', 'Mcp-Session-Id', 'S1'] });
    tap.responseChunk(Buffer.from('id: 1\nretry: 500\ndata: \n\n: keep-alive\n\n'));
    tap.responseChunk(e.subarray(0, 7)); // splits the two bytes of é
    tap.responseChunk(e.subarray(7));
    tap.end();
    await rec.close();
    const [ex] = (await loadRecording(file)).exchanges;
    expect(ex!.request.body.toString('utf8')).toBe(body);
    expect(ex!.session).toBe('S1');
    expect(ex!.response!.sse!.map(({ seq: _s, t: _t, ...f }) => f)).toEqual([
      { retry: 500 },
      { id: '1', data: '' },
      { comment: 'keep-alive' },
      { data: 'é' },
    ]);
  });

  it('records only its servers: records() says so before any tap exists, and nothing after close', async () => {
    const rec = await Recorder.open({ file: join(tmp.path, 'only.jsonl'), side: 'gateway', servers: ['notes'] });
    expect([rec.records('notes'), rec.records('files')]).toEqual([true, false]);
    exchange(rec.exchange({ id: 'r1', server: 'files' })); // a no-op tap: nothing recorded
    await rec.close();
    expect(rec.records('notes')).toBe(false);
    expect(rec.stats()).toMatchObject({ exchanges: 0, events: 0 });
  });

  it('never blocks: when the queue is full it drops and counts (footer, drop record, stats)', async () => {
    const file = join(tmp.path, 'r.jsonl');
    const rec = await Recorder.open({ file, side: 'test', queueLimitEvents: 20 });
    const tap = rec.exchange({ id: 'big', server: 's' });
    tap.requestHead({ method: 'GET', path: '/mcp', headers: [] });
    tap.responseHead({ status: 200, headers: [['content-type', 'application/octet-stream']] });
    const chunk = Buffer.alloc(1024, 0x61);
    for (let i = 0; i < 1000; i++) tap.responseChunk(chunk); // synchronous: the writer cannot run meanwhile
    expect(rec.stats().droppedEvents).toBe(1000 - 18);
    await rec.drain();
    tap.end();
    await rec.close();
    const recording = await loadRecording(file);
    expect(recording.footers[0]!.dropped).toEqual({ events: 982, bytes: 982 * 1024 });
    expect(recording.dropped).toBe(982);
    expect(recording.exchanges[0]!.end.type).toBe('end');
  });

  it('rotates at the size cap; the reader follows the parts', async () => {
    const file = join(tmp.path, 'r.jsonl');
    const rec = await Recorder.open({ file, side: 'test', maxFileBytes: 4000 });
    for (let i = 0; i < 20; i++) {
      exchange(rec.exchange({ id: `r${i}`, server: 's' }));
      await rec.drain();
    }
    await rec.close();
    expect((await readdir(tmp.path)).length).toBeGreaterThan(3);
    const recording = await loadRecording(file);
    expect(recording.exchanges.map((e) => e.id)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`));
    expect(recording.exchanges.every((e) => e.end.type === 'end')).toBe(true);
  });

  it('a recording cut mid-line (killed recorder) reads up to its last complete line', async () => {
    const file = join(tmp.path, 'r.jsonl');
    const rec = await Recorder.open({ file, side: 'test' });
    exchange(rec.exchange({ id: 'r1', server: 's' }));
    await rec.drain(); // lines are on disk before close: no footer needed to read them
    const text = await readFile(file, 'utf8');
    await writeFile(join(tmp.path, 'cut.jsonl'), text + '{"type":"request-head","seq":99,"t":1,"x":"r2","ser');
    const recording = await loadRecording(join(tmp.path, 'cut.jsonl'));
    expect(recording.truncated).toBe(true);
    expect(recording.footers).toEqual([]);
    expect(recording.exchanges.map((e) => e.id)).toEqual(['r1']);
    await rec.close();
  });
});
