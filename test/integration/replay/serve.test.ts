import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { waitFor } from '../../helpers';
import { exerciseSuite } from '../../helpers/replay-suite';
import { recordThrough } from '../../helpers/recording-proxy';
import { loadRecording, startReplayServer, type ReplayServer } from '../../../src/replay';

describe('replay serve', () => {
  let dir: string;
  let upstream: StreamableUpstreamHandle | undefined;
  let replay: ReplayServer | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-'));
  });
  afterEach(async () => {
    await replay?.close();
    await upstream?.close();
    replay = upstream = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the SDK client from a recording with the same results as the live server', async () => {
    upstream = await startStreamableUpstream();
    const file = join(dir, 'suite.jsonl');
    const live = await recordThrough(file, { notes: upstream.url }, (proxy) => exerciseSuite(proxy.url('notes'), () => waitFor(() => proxy.getStreams() >= 1)));

    if (process.env.REPLAY_SAVE_FIXTURE !== undefined) await copyFile(file, process.env.REPLAY_SAVE_FIXTURE);
    const recording = await loadRecording(file);
    expect(recording.servers).toEqual(['notes']);
    replay = await startReplayServer(recording, { host: '127.0.0.1', port: 0 });
    const replayed = await exerciseSuite(replay.urls[0]!.url, async () => undefined);
    expect(replayed).toEqual(live);
    expect(replay.unmatched()).toBe(0);
    expect(replay.answerMismatches()).toBe(0);
  });
});
