/**
 * The SDK suite that the record/replay tests record and replay (issue 12): tools with progress, a
 * sampling round trip, resources subscribe and update, notifications on the standalone GET stream.
 * One copy for every replay test, so a live run and its replay are compared on the same calls.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ResourceUpdatedNotificationSchema, type CreateMessageRequest, type CreateMessageResult } from '@modelcontextprotocol/sdk/types.js';
import { COUNTER_URI } from '../fixtures/mcp-upstream';
import { connectClient } from './mcp-client';
import { spawnCli, type SpawnedProcess } from './process';
import { waitFor } from './wait-for';

/** Resources subscribe and update: subscribe to the counter, change it, get the update, read it. */
export async function subscribeAndTouch(client: Client): Promise<unknown> {
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

/** The client's sampling handler of the suite: answers `sampled: <first message text>`. */
export function sampleAnswer(req: CreateMessageRequest): CreateMessageResult {
  const first = req.params.messages[0]?.content;
  const text = first !== undefined && 'text' in first ? String(first.text) : '?';
  return { role: 'assistant', model: 'test-model', content: { type: 'text', text: `sampled: ${text}` } };
}

/** The suite's tool calls up to the sampling round trip (both transports). */
export async function suiteToolCalls(client: Client): Promise<Record<string, unknown>> {
  const tools = await client.listTools();
  const echo = await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
  const progress: number[] = [];
  const prog = await client.callTool({ name: 'progress', arguments: { steps: 3, intervalMs: 30 } }, undefined, {
    onprogress: (p) => progress.push(p.progress),
  });
  const sample = await client.callTool({ name: 'sample', arguments: { prompt: 'pick a colour' } });
  return { tools, echo, prog, progress, sample };
}

/**
 * Runs the suite against `url` (Streamable HTTP) and returns everything the client saw.
 * `beforeStandalone` waits until the standalone GET stream is open (live runs; replay releases its
 * events in order anyway).
 */
export async function exerciseSuite(url: string, beforeStandalone: () => Promise<unknown>, headers?: Record<string, string>): Promise<unknown> {
  const c = await connectClient(url, { ...(headers === undefined ? {} : { headers }), onSample: sampleAnswer });
  try {
    const calls = await suiteToolCalls(c.client);
    await beforeStandalone();
    const log = await c.client.callTool({ name: 'notifyLog', arguments: { count: 2, via: 'standalone' } });
    await waitFor(() => c.logs.length >= 2);
    const resources = await subscribeAndTouch(c.client);
    await c.transport.terminateSession();
    return { ...calls, log, resources, logs: c.logs.map((l) => l.data), errors: c.errors.map(String) };
  } finally {
    await c.close();
  }
}

/** `mcp-tunnel replay serve FILE --listen 127.0.0.1:0 …` as a child process, once it printed `servers` URLs. */
export async function spawnReplayServe(
  file: string,
  servers = 1,
  extra: readonly string[] = [],
): Promise<{ proc: SpawnedProcess; urls: Map<string, string> }> {
  const proc = spawnCli(['replay', 'serve', file, '--listen', '127.0.0.1:0', ...extra]);
  await proc.waitForLine(/^MCP_URL=/, { stream: 'stdout' });
  const urls = new Map<string, string>();
  await waitFor(() => {
    for (const line of proc.stdout) {
      const m = /^MCP_URL=(http:\/\/\S+\/mcp\/([^/\s]+))$/.exec(line);
      if (m !== null) urls.set(m[2]!, m[1]!);
    }
    return urls.size >= servers;
  });
  return { proc, urls };
}
