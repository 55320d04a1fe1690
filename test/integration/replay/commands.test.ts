import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Subject } from 'rxjs';
import { connectClient, waitFor } from '../../helpers';
import { runReplayExport, runReplayServe } from '../../../src/replay';
import { tempDirEach } from '../../helpers/temp-dir';

const FIXTURE = join(__dirname, '../../fixtures/recordings/sdk-suite.jsonl');

function io(): { stdout: PassThrough; stderr: PassThrough; text: () => string; signals$: Subject<'SIGINT' | 'SIGTERM'> } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  stderr.on('data', (c: Buffer) => chunks.push(c));
  return { stdout, stderr, text: () => Buffer.concat(chunks).toString('utf8'), signals$: new Subject() };
}

describe('replay commands', () => {
  const tmp = tempDirEach('replay-cmd-');

  it('replay serve prints MCP_URL, answers an unmatched call with the closest candidate and a diff, and exits 1 on SIGTERM', async () => {
    const s = io();
    const exit = runReplayServe([FIXTURE, '--listen', '127.0.0.1:0'], s);
    const url = (await waitFor(() => /^MCP_URL=(\S+)$/m.exec(s.text())?.[1]));
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp\/notes$/);
    const c = await connectClient(url, { onSample: () => ({ role: 'assistant', model: 'm', content: { type: 'text', text: 'x' } }) });
    try {
      await c.client.listTools();
      await expect(c.client.callTool({ name: 'echo', arguments: { text: 'not recorded' } })).rejects.toThrow(
        /no recorded exchange matches tools\/call echo; closest recorded: tools\/call echo .*\/messages\/0\/params\/arguments\/text/,
      );
    } finally {
      await c.close();
    }
    s.signals$.next('SIGTERM');
    expect(await exit).toBe(1);
    expect(s.text()).toContain('1 request(s) matched no recorded exchange');
  });

  it('replay serve exits 0 when everything matched, 2 on a bad --listen', async () => {
    const s = io();
    const exit = runReplayServe([FIXTURE, '--listen=127.0.0.1:0', '--timing', 'scaled:0.5'], s);
    await waitFor(() => s.text().includes('MCP_URL='));
    s.signals$.next('SIGINT');
    expect(await exit).toBe(0);
    expect(await runReplayServe([FIXTURE, '--listen', 'nope'], io())).toBe(2);
  });

  it('replay export writes HAR 1.2 with SSE events under _eventSource', async () => {
    const out = join(tmp.path, 'suite.har');
    expect(await runReplayExport([FIXTURE, '--har', out], io())).toBe(0);
    const har = JSON.parse(await readFile(out, 'utf8')) as {
      log: { version: string; entries: Array<{ request: { method: string }; response: { status: number }; _eventSource?: Array<{ data?: string }> }> };
    };
    expect(har.log.version).toBe('1.2');
    expect(har.log.entries.map((e) => e.request.method)).toEqual([
      ...['POST', 'POST', 'GET', 'POST', 'POST', 'POST', 'POST', 'POST', 'POST'],
      ...['POST', 'POST', 'POST', 'POST', 'POST', 'DELETE'], // resources list, subscribe, touch, read, unsubscribe
    ]);
    const standalone = har.log.entries[2]!._eventSource!.map((e) => (JSON.parse(e.data || '{}') as { method?: string }).method);
    expect(standalone).toContain('notifications/resources/updated');
    const progress = har.log.entries[5]!._eventSource!.map((e) => JSON.parse(e.data!) as { method?: string });
    expect(progress.map((m) => m.method ?? 'result')).toEqual(['notifications/progress', 'notifications/progress', 'notifications/progress', 'result']);
    expect(await runReplayExport([FIXTURE], io())).toBe(2);
  });
});
