/**
 * Records a real proxy's connection pipeline (real gateway, real WebSocket, real secret file) and
 * replays it in virtual time: the replay must take the same decisions. With
 * `REGENERATE_PIPELINE_FIXTURES=1` it also writes the recording to
 * test/fixtures/recordings/pipeline-proxy.jsonl (docs/replay.md "Deterministic replay").
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type RunningGateway } from '../../../src/gateway';
import { startProxy, type RunningProxy } from '../../../src/proxy';
import { PipelineTap, parsePipelineRecording, type PipelineLine } from '../../../src/replay';
import { comparePipeline, replayPipeline } from '../../../src/replay/pipeline-replay';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';
import { waitFor } from '../../helpers/wait-for';

const FIXTURE = join(__dirname, '../../fixtures/recordings/pipeline-proxy.jsonl');

describe('pipeline recording of a real proxy', () => {
  let h: Harness | null = null;
  let proxy: RunningProxy | null = null;
  let gateway2: RunningGateway | null = null;
  let dir: string | null = null;
  afterEach(async () => {
    await proxy?.close(0);
    await gateway2?.close(0);
    await h?.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
    h = proxy = gateway2 = dir = null;
  });

  it('records a wrong secret, a secret swap, a gateway restart (GOAWAY, refused dials, backoff), a revoked secret and replays them exactly in virtual time', async () => {
    h = await startHarness({ servers: [], startProxy: false });
    dir = mkdtempSync(join(tmpdir(), 'pipeline-'));
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, 'not-the-secret-of-this-tunnel-0123456789');
    const tap = new PipelineTap();
    const decisions = (): Array<Extract<PipelineLine, { type: 'decision' }>> => tap.lines.filter((l): l is Extract<PipelineLine, { type: 'decision' }> => l.type === 'decision');
    const seen = (pred: (d: Extract<PipelineLine, { type: 'decision' }>) => boolean): Promise<true> => waitFor(() => decisions().some(pred), { timeoutMs: 10_000 });
    const config = { ...h.proxyConfig, secret: 'not-the-secret-of-this-tunnel-0123456789', secretFile, reconnect: { baseMs: 100, capMs: 800, stableMs: 10_000 } };
    proxy = startProxy(config, { logger: h.logs.logger, auditLogger: h.proxyAudit.logger, pipelineTap: tap, secretWatchDebounceMs: 20 });
    // 1. wrong secret: a permanent refusal, then the long wait that a secret swap cuts short.
    await seen((d) => d.decision.state === 'waiting' && d.decision.permanent);
    writeFileSync(secretFile, h.secret);
    await proxy.ready;
    // 2. the gateway restarts: GOAWAY + 4000, replacement dials refused with backoff, then it is back.
    const port = h.gateway.port;
    await h.gateway.close(0);
    await seen((d) => d.decision.state === 'waiting' && d.decision.code === 'TUNNEL_DIAL_FAILED' && d.decision.attempt >= 3);
    gateway2 = await startGateway({ ...h.gatewayConfig, listen: { host: '127.0.0.1', port } }, { logger: h.logs.logger, auditLogger: h.gatewayAudit.logger });
    const connectedCount = (): number => decisions().filter((x) => x.decision.state === 'connected').length;
    await seen(() => connectedCount() >= 2);
    // 3. rotation: the gateway revokes the proxy's secret (short grace); its connection is drained and
    //    closed 4401, the replacement is refused permanently until the new secret is in the file.
    const next = 'the-rotated-secret-of-this-tunnel-0123456789';
    gateway2.reload({ ...h.gatewayConfig, listen: { host: '127.0.0.1', port }, tunnels: [{ id: 'corp', secrets: [next] }], rotation: { graceMs: 100 } });
    await seen((d) => d.decision.state === 'waiting' && d.decision.permanent && d.t > decisions().find((x) => x.decision.state === 'retiring')!.t);
    writeFileSync(secretFile, next);
    await seen(() => connectedCount() >= 3);
    await proxy.close(0);
    proxy = null;

    const text = tap.toJsonl();
    expect(text).not.toContain(h.secret);
    expect(text).not.toContain(next);
    const rec = parsePipelineRecording(text);
    const states = rec.events.flatMap((e) => (e.type === 'decision' ? [e.decision.state] : []));
    expect(states).toEqual(expect.arrayContaining(['connecting', 'waiting', 'connected', 'retiring']));
    const cmp = comparePipeline(rec, replayPipeline(rec));
    expect(cmp.differences).toEqual([]);
    if (process.env.REGENERATE_PIPELINE_FIXTURES === '1') writeFileSync(FIXTURE, text);
  }, 30_000);
});
