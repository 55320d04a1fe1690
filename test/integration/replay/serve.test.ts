import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COUNTER_URI, startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectClient, waitFor } from '../../helpers';
import { startRecordingProxy, type RecordingProxy } from '../../helpers/recording-proxy';
import { loadRecording, Recorder, startReplayServer, type ReplayServer } from '../../../src/replay';

/** Resources subscribe and update: subscribe to the counter, change it, get the update, read it. */
async function subscribeAndTouch(client: Client): Promise<unknown> {
  const updates: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
  const list = await client.listResources();
  await client.subscribeResource({ uri: COUNTER_URI });
  const touched = await client.callTool({ name: 'touch', arguments: {} });
  await waitFor(() => updates.length >= 1);
  const read = await client.readResource({ uri: COUNTER_URI });
  await client.unsubscribeResource({ uri: COUNTER_URI });
  return { list, touched, updates, read };
}

/** The SDK suite's traffic: tools with progress, a sampling round trip, resources subscribe and update, notifications on the GET stream. */
async function exercise(url: string, beforeStandalone: () => Promise<unknown>): Promise<unknown> {
  const c = await connectClient(url, {
    onSample: (req) => {
      const first = req.params.messages[0]?.content;
      const text = first !== undefined && 'text' in first ? String(first.text) : '?';
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: `sampled: ${text}` } };
    },
  });
  try {
    const tools = await c.client.listTools();
    const echo = await c.client.callTool({ name: 'echo', arguments: { text: 'hello' } });
    const progress: number[] = [];
    const prog = await c.client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 30 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    const sample = await c.client.callTool({ name: 'sample', arguments: { prompt: 'pick a colour' } });
    await beforeStandalone();
    const log = await c.client.callTool({ name: 'notifyLog', arguments: { count: 2, via: 'standalone' } });
    await waitFor(() => c.logs.length >= 2);
    const resources = await subscribeAndTouch(c.client);
    await c.transport.terminateSession();
    return { tools, echo, prog, progress, sample, log, resources, logs: c.logs.map((l) => l.data), errors: c.errors.map(String) };
  } finally {
    await c.close();
  }
}

describe('replay serve', () => {
  let dir: string;
  let upstream: StreamableUpstreamHandle | undefined;
  let proxy: RecordingProxy | undefined;
  let replay: ReplayServer | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-'));
  });
  afterEach(async () => {
    await replay?.close();
    await proxy?.close();
    await upstream?.close();
    replay = proxy = upstream = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the SDK client from a recording with the same results as the live server', async () => {
    upstream = await startStreamableUpstream();
    const file = join(dir, 'suite.jsonl');
    const recorder = await Recorder.open({ file, side: 'test' });
    proxy = await startRecordingProxy(recorder, { notes: upstream.url });
    const live = await exercise(proxy.url('notes'), () => waitFor(() => proxy!.getStreams() >= 1));
    await proxy.close();
    proxy = undefined;
    await recorder.close();

    if (process.env.REPLAY_SAVE_FIXTURE !== undefined) await copyFile(file, process.env.REPLAY_SAVE_FIXTURE);
    const recording = await loadRecording(file);
    expect(recording.servers).toEqual(['notes']);
    replay = await startReplayServer(recording, { host: '127.0.0.1', port: 0 });
    const replayed = await exercise(replay.urls[0]!.url, async () => undefined);
    expect(replayed).toEqual(live);
    expect(replay.unmatched()).toBe(0);
    expect(replay.answerMismatches()).toBe(0);
  });
});
