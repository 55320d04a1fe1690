import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { connectClient } from '../../helpers';
import { captureIo } from '../../helpers/replay-io';
import { recordThrough } from '../../helpers/recording-proxy';
import { runReplayRun, type JsonReport } from '../../../src/replay';

const io = captureIo;

describe('replay run --cut-sse-at (SSE fault injection)', () => {
  let dir: string;
  let file: string;
  const open: StreamableUpstreamHandle[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-cut-'));
    const up = await startStreamableUpstream({ eventStore: true });
    open.push(up);
    file = join(dir, 'progress.jsonl');
    await recordThrough(file, { calc: up.url }, async (proxy) => {
      const c = await connectClient(proxy.url('calc'));
      await c.client.callTool({ name: 'progress', arguments: { steps: 4, intervalMs: 20 } }, undefined, { onprogress: () => undefined });
      await c.close();
    });
  });
  afterEach(async () => {
    while (open.length > 0) await open.pop()!.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(target: StreamableUpstreamHandle, extra: string[]): Promise<{ code: number; report: JsonReport; out: string }> {
    const s = io();
    const reportFile = join(dir, 'report.json');
    const code = await runReplayRun([file, '--target', target.url, '--report', reportFile, ...extra], s);
    return { code, report: JSON.parse(await readFile(reportFile, 'utf8')) as JsonReport, out: s.out() };
  }

  it('cuts the tool call stream after event 2, resumes with Last-Event-ID, and finds no loss or duplicate', async () => {
    const up = await startStreamableUpstream({ eventStore: true });
    open.push(up);
    const r = await run(up, ['--cut-sse-at', '2']);
    const call = r.report.exchanges.find((e) => e.call.startsWith('tools/call progress'));
    expect(call?.cut).toEqual({ after: 2, lastEventId: expect.any(String) as string, resumed: true, duplicates: 0 });
    expect(r.report.differences).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('reports a breaking difference when the target cannot resume (no event ids without an event store)', async () => {
    const up = await startStreamableUpstream();
    open.push(up);
    const r = await run(up, ['--cut-sse-at', '2']);
    expect(r.code).toBe(1);
    expect(r.report.differences.map((d) => d.message)).toContain('stream cut after event 2 cannot resume: the target sent no event id');
  });

  it('rejects a --cut-sse-at that is not a positive event number (exit 2)', async () => {
    const s = io();
    expect(await runReplayRun([file, '--target', 'http://127.0.0.1:9/mcp', '--cut-sse-at', '0'], s)).toBe(2);
    expect(s.out()).toContain('--cut-sse-at must be a positive event number');
  });
});
