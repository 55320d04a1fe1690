/**
 * Issue 12, "done when": the SDK suite's traffic recorded THROUGH THE TUNNEL by the gateway's tap
 * (the `record` config) and by the proxy's, served again by `mcp-tunnel replay serve` (the built CLI),
 * and the SDK client gets the same results from the replay as from the live servers.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStreamableUpstream, type StreamableUpstreamHandle } from '../../fixtures/mcp-upstream';
import { connectClient, waitFor } from '../../helpers';
import { stopProcessesAfterEach } from '../../helpers/process';
import { exerciseSuite, spawnReplayServe } from '../../helpers/replay-suite';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { loadRecording, startReplayServer, type ReplayServer } from '../../../src/replay';
import type { RecordConfig } from '../../../src/config';

function recordConfig(file: string, servers: string[] | null = null): RecordConfig {
  return { file, servers, maxFileBytes: 1024 ** 3, queueBytes: 2 * 1024 ** 2, hmacKeyFile: null, redact: { headers: [], queryParams: [], pointers: [], patterns: [] } };
}

/** Waits until the upstream answered the session's standalone GET stream (its head went out). */
function getStreamOpen(upstream: StreamableUpstreamHandle): () => Promise<unknown> {
  return () => waitFor(() => upstream.state.requestsTo('/mcp', 'GET').some((r) => r.status === 200));
}

async function listAndEcho(url: string, headers?: Record<string, string>): Promise<unknown> {
  const c = await connectClient(url, headers === undefined ? {} : { headers });
  try {
    return { tools: await c.client.listTools(), echo: await c.client.callTool({ name: 'echo', arguments: { text: 'second server' } }) };
  } finally {
    await c.close();
  }
}

describe('recording through the tunnel', () => {
  let dir: string;
  const upstreams: StreamableUpstreamHandle[] = [];
  let harness: Harness | undefined;
  let replay: ReplayServer | undefined;
  stopProcessesAfterEach();

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'replay-tunnel-'));
  });
  afterEach(async () => {
    await replay?.close();
    await harness?.close();
    await Promise.all(upstreams.splice(0).map((u) => u.close()));
    replay = harness = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('the gateway tap records two servers; replay serve (CLI) answers the SDK suite with the same results, each server at its own path', async () => {
    const notes = await startStreamableUpstream();
    const files = await startStreamableUpstream();
    upstreams.push(notes, files);
    const file = join(dir, 'gateway.jsonl');
    harness = await startHarness({
      servers: [{ name: 'notes', url: notes.url }, { name: 'files', url: files.url }],
      gateway: (c) => (c.record = recordConfig(file)),
    });
    const auth = { authorization: `Bearer ${harness.apiKey}` };
    const live = await exerciseSuite(harness.mcpUrl('notes').href, getStreamOpen(notes), auth);
    const liveFiles = await listAndEcho(harness.mcpUrl('files').href, auth);
    await harness.close();
    harness = undefined;

    expect(await readFile(file, 'utf8')).not.toContain(auth.authorization.slice(7));
    const recording = await loadRecording(file);
    expect(recording.header.recorder.side).toBe('gateway');
    expect(recording.servers.sort()).toEqual(['files', 'notes']);
    expect(recording.footers).toHaveLength(1); // closed with the gateway: footer written

    const served = await spawnReplayServe(file, 2);
    expect([...served.urls.keys()].sort()).toEqual(['files', 'notes']);
    expect(served.urls.get('notes')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp\/notes$/);
    const replayed = await exerciseSuite(served.urls.get('notes')!, () => Promise.resolve());
    expect(replayed).toEqual(live);
    expect(await listAndEcho(served.urls.get('files')!)).toEqual(liveFiles);
    served.proc.child.kill('SIGINT');
    expect((await served.proc.exited).code).toBe(0);
  });

  it('the proxy tap (record config) records what it sent upstream; the replay answers the suite the same way', async () => {
    const notes = await startStreamableUpstream();
    upstreams.push(notes);
    const file = join(dir, 'proxy.jsonl');
    harness = await startHarness({ servers: [{ name: 'notes', url: notes.url }], proxy: (c) => (c.record = recordConfig(file)) });
    const auth = { authorization: `Bearer ${harness.apiKey}` };
    const live = await exerciseSuite(harness.mcpUrl('notes').href, getStreamOpen(notes), auth);
    const apiKey = harness.apiKey;
    await harness.close();
    harness = undefined;

    const text = await readFile(file, 'utf8');
    expect(text).not.toContain(apiKey);
    const recording = await loadRecording(file);
    expect(recording.header.recorder.side).toBe('proxy');
    // Upstream paths: what the proxy sent, not the gateway's /mcp/{server}.
    expect(recording.exchanges.every((x) => x.request.path.startsWith('/mcp'))).toBe(true);
    replay = await startReplayServer(recording, { host: '127.0.0.1', port: 0 });
    expect(await exerciseSuite(replay.urls[0]!.url, () => Promise.resolve())).toEqual(live);
    expect(replay.unmatched()).toBe(0);
  });
});
