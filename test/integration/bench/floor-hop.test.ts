/**
 * The bench's Node floor (src/bench/floor-hop.ts) carries what the bench sends faithfully, or its
 * column would measure something else: a POST's status and bytes as direct gives them, an SSE stream
 * event by event, and a 502 once its inside end is gone. Built code (`npm run build` first): the two
 * ends and the bench upstream are child processes, as `npm run bench` runs them.
 */
import { join } from 'node:path';
import { REPO_ROOT, spawnProcess, stopProcessesAfterEach } from '../../helpers/process';

const DIST = join(REPO_ROOT, 'dist', 'bench');
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo', arguments: { text: 'é'.repeat(300) } } });

async function post(url: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: BODY });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('bench: the Node floor', () => {
  stopProcessesAfterEach();

  it('passes POSTs and SSE streams through unchanged, and answers 502 without its inside end', async () => {
    const upstream = spawnProcess(process.execPath, [join(DIST, 'upstream.js')]);
    const upstreamUrl = (await upstream.waitForLine(/^UPSTREAM_URL=(\S+)/))[1]!;
    const outside = spawnProcess(process.execPath, [join(DIST, 'floor-hop.js'), 'outside']);
    const floorUrl = (await outside.waitForLine(/^FLOOR_URL=(\S+)/))[1]!;

    expect((await post(`${floorUrl}/mcp`)).status).toBe(502);

    const inside = spawnProcess(process.execPath, [join(DIST, 'floor-hop.js'), 'inside', floorUrl.replace(/^http/, 'ws'), upstreamUrl]);
    await inside.waitForLine(/^FLOOR_INSIDE_READY/);

    const [direct, floored] = await Promise.all([post(`${upstreamUrl}/mcp`), post(`${floorUrl}/mcp`)]);
    expect(floored).toEqual(direct);
    expect(floored.status).toBe(200);

    const bytes = await fetch(`${floorUrl}/bytes?n=${3 * 65536 + 17}`);
    expect((await bytes.arrayBuffer()).byteLength).toBe(3 * 65536 + 17);

    const sse = await fetch(`${floorUrl}/sse?events=3&intervalMs=20`);
    expect(sse.headers.get('content-type')).toBe('text/event-stream');
    const events = (await sse.text()).split('\n\n').filter((e) => e.startsWith('id: '));
    expect(events.map((e) => e.split('\n')[0])).toEqual(['id: 0', 'id: 1', 'id: 2']);

    inside.child.kill('SIGTERM');
    await inside.exited;
    expect((await post(`${floorUrl}/mcp`)).status).toBe(502);
  });
});
