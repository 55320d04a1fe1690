/**
 * Records what a real proxy's connection does inside `serveConnection` (in-band re-authentication,
 * the gateway's drain announcement, the connection's own drain with a request in flight) and
 * replays it in virtual time through the real `serveMux`: the replay must send, drain and close the
 * same way. With `REGENERATE_PIPELINE_FIXTURES=1` it also writes the recording to
 * test/fixtures/recordings/pipeline-connection.jsonl (docs/replay.md "Deterministic replay").
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayConfig } from '../../../src/config';
import { startProxy, type RunningProxy } from '../../../src/proxy';
import { PipelineTap, parsePipelineRecording, type PipelineLine } from '../../../src/replay';
import { comparePipeline, replayPipeline } from '../../../src/replay/pipeline-replay';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { waitFor } from '../../helpers/wait-for';
import { newSecret } from '../rotation/helpers';

const FIXTURE = join(__dirname, '../../fixtures/recordings/pipeline-connection.jsonl');

/** An upstream that holds every request until the test releases it (a plain JSON answer: nothing to resume). */
async function startGate(): Promise<{ server: Server; url: string; held: ServerResponse[] }> {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    req.resume();
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, held };
}

describe('pipeline recording of a real proxy connection', () => {
  let upstream: Awaited<ReturnType<typeof startGate>> | null = null;
  let h: Harness | null = null;
  let proxy: RunningProxy | null = null;
  let dir: string | null = null;
  afterEach(async () => {
    await proxy?.close(0);
    await h?.close();
    upstream?.server.closeAllConnections();
    if (upstream) await new Promise((resolve) => upstream!.server.close(resolve));
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
    upstream = h = proxy = dir = null;
  });

  it('records a re-authentication round trip and a drain with a request in flight, and replays them exactly in virtual time', async () => {
    upstream = await startGate();
    const gate = upstream;
    h = await startHarness({ servers: [{ name: 'slow', url: gate.url }], startProxy: false, gateway: (c) => void (c.rotation.graceMs = 5000) });
    const harness = h;
    dir = mkdtempSync(join(tmpdir(), 'pipeline-conn-'));
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, harness.secret);
    const tap = new PipelineTap();
    const lines = <T extends PipelineLine['type']>(type: T): Array<Extract<PipelineLine, { type: T }>> => tap.lines.filter((l): l is Extract<PipelineLine, { type: T }> => l.type === type);
    const control = (type: 'control-in' | 'control-out', pred: (m: Record<string, unknown>) => boolean): Promise<true> =>
      waitFor(() => lines(type).some((l) => pred(l.message)), { timeoutMs: 10_000 });
    const withSecrets = (secrets: string[]): GatewayConfig => ({ ...harness.gatewayConfig, tunnels: [{ id: 'corp', secrets }] });
    proxy = startProxy({ ...harness.proxyConfig, secretFile, reconnect: { baseMs: 100, capMs: 800, stableMs: 10_000 } }, { logger: harness.logs.logger, auditLogger: harness.proxyAudit.logger, pipelineTap: tap, secretWatchDebounceMs: 20 });
    await proxy.ready;

    // 1. The proxy's file gets a secret the gateway does not know yet: it asks to re-authenticate, is refused.
    const next = newSecret();
    writeFileSync(secretFile, next);
    await control('control-in', (m) => m.type === 'reauth_result' && m.ok === false);
    // 2. Rotation: the gateway revokes the old secret and asks the connection to re-authenticate; the
    //    proxy answers with the secret from its file, accepted: the connection stays.
    harness.gateway.reload(withSecrets([next]));
    await control('control-in', (m) => m.type === 'reauth_result' && m.ok === true);

    // 3. A request in flight when the gateway announces a drain (GOAWAY, as a cluster replica does
    //    when another one is free): the slot reconnects and drains the old connection, which closes
    //    once the request is answered.
    const call = fetch(harness.mcpUrl('slow'), { method: 'POST', headers: { authorization: `Bearer ${harness.apiKey}`, 'content-type': 'application/json' }, body: '{}' });
    await waitFor(() => gate.held.length === 1);
    const [gatewaySide] = harness.gateway.registry.connections('corp');
    gatewaySide!.mux.goAway(0, 'another gateway replica is available; reconnect there');
    const old = (await waitFor(() => lines('goaway-in')[0])).connection;
    await waitFor(() => lines('goaway-out').some((l) => l.connection === old), { timeoutMs: 10_000 });
    gate.held[0]!.writeHead(200, { 'content-type': 'application/json' }).end('{"answered":true}');
    const res = await call;
    expect(await res.text()).toBe('{"answered":true}');
    await waitFor(() => lines('closed').some((l) => l.connection === old), { timeoutMs: 10_000 });
    await proxy.close(0);
    proxy = null;

    const text = tap.toJsonl();
    expect(text).not.toContain(harness.secret);
    expect(text).not.toContain(next);
    const rec = parsePipelineRecording(text);
    const byOld = rec.events.filter((e) => 'connection' in e && e.connection === old).map((e) => e.type);
    expect(byOld).toEqual(expect.arrayContaining(['connected', 'control-out', 'control-in', 'goaway-in', 'retire', 'drain', 'goaway-out', 'idle', 'closed']));
    expect(lines('goaway-in')[0]!.inFlight).toBe(1);
    const cmp = comparePipeline(rec, replayPipeline(rec));
    expect(cmp.differences).toEqual([]);
    if (process.env.REGENERATE_PIPELINE_FIXTURES === '1') writeFileSync(FIXTURE, text);
  }, 30_000);
});
