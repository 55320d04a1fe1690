import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLegacySseUpstream, type LegacySseUpstreamHandle } from '../../fixtures/mcp-upstream';
import { connectClient } from '../../helpers';
import { sampleAnswer, subscribeAndTouch, suiteToolCalls } from '../../helpers/replay-suite';
import { recordThrough } from '../../helpers/recording-proxy';
import { loadRecording, startReplayServer, type ReplayServer } from '../../../src/replay';

/** The SDK suite over the legacy HTTP+SSE transport: tools with progress, a sampling round trip, logs, resources subscribe and update. */
async function exercise(url: string): Promise<unknown> {
  const c = await connectClient(url, { transport: 'sse', onSample: sampleAnswer });
  try {
    const calls = await suiteToolCalls(c.client);
    const log = await c.client.callTool({ name: 'notifyLog', arguments: { count: 2 } });
    const resources = await subscribeAndTouch(c.client);
    return { ...calls, log, resources, logs: c.logs.map((l) => l.data), errors: c.errors.map(String) };
  } finally {
    await c.close();
  }
}

describe('replay serve (legacy HTTP+SSE)', () => {
  let dir: string;
  let upstream: LegacySseUpstreamHandle | undefined;
  let replay: ReplayServer | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-legacy-'));
  });
  afterEach(async () => {
    await replay?.close();
    await upstream?.close();
    replay = upstream = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('announces an endpoint under /mcp/{server}/, answers POSTs 202 and on the stream, with the same results as live', async () => {
    upstream = await startLegacySseUpstream();
    const file = join(dir, 'legacy.jsonl');
    const live = await recordThrough(file, { notes: upstream.url }, (proxy) => exercise(proxy.url('notes')));

    if (process.env.REPLAY_SAVE_LEGACY_FIXTURE !== undefined) await copyFile(file, process.env.REPLAY_SAVE_LEGACY_FIXTURE);
    const recording = await loadRecording(file);
    const get = recording.exchanges.find((e) => e.request.method === 'GET')!;
    expect(get.session).not.toBeNull();
    expect(recording.exchanges.filter((e) => e.request.method === 'POST').every((e) => e.session === get.session)).toBe(true);

    replay = await startReplayServer(recording, { host: '127.0.0.1', port: 0 });
    const url = replay.urls[0]!.url;
    const replayed = await exercise(url);
    expect(replayed).toEqual(live);
    expect(replay.unmatched()).toBe(0);
    expect(replay.answerMismatches()).toBe(0);

    // Only the endpoint announced to a live stream takes POSTs.
    const stray = await fetch(`${url}/messages?sessionId=not-announced`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(stray.status).toBe(404);
  });
});
