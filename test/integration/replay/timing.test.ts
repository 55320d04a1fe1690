/**
 * Timing modes of `replay serve` (docs/replay.md "Timing"), checked by measured ordering: a paced
 * replay can never deliver a call's events before their recorded delay × factor has passed (a timer
 * never fires early), so the lower bounds below hold on any machine; no fixed sleeps, no upper bound.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectClient } from '../../helpers';
import { loadRecording, startReplayServer, type Recording, type ReplayServer, type Timing } from '../../../src/replay';

const FIXTURE = join(__dirname, '../../fixtures/recordings/sdk-suite.jsonl');

/** Recorded ms from the `progress` call's request head to its last SSE event. */
function progressSpan(rec: Recording): number {
  const ex = rec.exchanges.find((x) => x.request.body.toString('utf8').includes('"name":"progress"'));
  const last = ex?.response?.sse?.at(-1);
  if (ex === undefined || last === undefined) throw new Error('fixture has no progress call');
  return last.t - ex.t;
}

async function timeProgressCall(url: string): Promise<{ ms: number; progress: number[] }> {
  const c = await connectClient(url, { onSample: () => ({ role: 'assistant', model: 'm', content: { type: 'text', text: 'x' } }) });
  try {
    await c.client.listTools();
    await c.client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    const progress: number[] = [];
    const start = performance.now();
    await c.client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 5 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    return { ms: performance.now() - start, progress };
  } finally {
    await c.close();
  }
}

describe('replay serve timing modes', () => {
  let replay: ReplayServer | undefined;
  afterEach(async () => {
    await replay?.close();
    replay = undefined;
  });

  it.each<[string, Timing, number]>([
    ['recorded', { mode: 'recorded' }, 1],
    ['scaled:4', { mode: 'scaled', factor: 4 }, 4],
  ])('%s: the events of a call come no earlier than the recorded delays × factor, in order', async (_name, timing, factor) => {
    const rec = await loadRecording(FIXTURE);
    const span = progressSpan(rec);
    expect(span).toBeGreaterThan(10); // the fixture recorded a paced call
    replay = await startReplayServer(rec, { host: '127.0.0.1', port: 0, timing });
    const { ms, progress } = await timeProgressCall(replay.urls[0]!.url);
    expect(progress).toEqual([1, 2, 3]);
    // 1 ms per event for timer granularity.
    expect(ms).toBeGreaterThanOrEqual(span * factor - 5);
  });
});
