/**
 * The recorder's drops on /metrics (docs/operations.md): a real gateway with a recorder whose queue is
 * tiny, its ops listener scraped over HTTP; the counters equal `recorder.stats()`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type RunningGateway } from '../../../src/gateway';
import { startProxy, type RunningProxy } from '../../../src/proxy';
import { silentLogger } from '../../../src/log';
import { Metrics, meterRecorder, startOpsServer, type OpsServer } from '../../../src/ops';
import { Recorder } from '../../../src/replay';
import { scrape } from '../../helpers/prometheus';
import { startHarness, type Harness } from '../../helpers/tunnel-harness';

const EVENTS = 'mcp_tunnel_record_dropped_events_total';
const BYTES = 'mcp_tunnel_record_dropped_bytes_total';

describe('recorder drops as metrics', () => {
  let h: Harness | null = null;
  let gateway: RunningGateway | null = null;
  let ops: OpsServer | null = null;
  let recorder: Recorder | null = null;
  let proxy: RunningProxy | null = null;
  let dir: string | null = null;
  afterEach(async () => {
    await ops?.close();
    await proxy?.close(0);
    await gateway?.close(0);
    await recorder?.close();
    await h?.close();
    if (dir !== null) rmSync(dir, { recursive: true, force: true });
    h = gateway = ops = recorder = proxy = dir = null;
  });

  it('exposes the recording gateway recorder dropped events and bytes, read from stats() at scrape time', async () => {
    h = await startHarness({ servers: [], startProxy: false });
    dir = mkdtempSync(join(tmpdir(), 'record-metrics-'));
    const logger = silentLogger();
    recorder = await Recorder.open({ file: join(dir, 'r.jsonl'), side: 'gateway', queueLimitEvents: 4, queueLimitBytes: 1024, thread: false });
    const metrics = new Metrics({ role: 'gateway', version: 'test', defaultMetrics: false });
    gateway = await startGateway({ ...h.gatewayConfig, listen: { host: '127.0.0.1', port: 0 } }, { logger, auditLogger: logger, metrics, recorder });
    ops = await startOpsServer({ listen: { host: '127.0.0.1', port: 0 }, ready: () => ({ ready: true }), metrics, logger });
    const base = ops.url;
    expect((await scrape(base)).get(EVENTS)).toBe(0);
    // Flood the queue in one turn: the writer gets no chance to catch up, so events are dropped and counted.
    const tap = recorder.exchange({ id: 'x1', server: 'notes' });
    tap.requestHead({ method: 'POST', path: '/mcp/notes', headers: [['content-type', 'application/json']] });
    for (let i = 0; i < 50; i += 1) tap.requestChunk(Buffer.alloc(100, 0x61));
    const { droppedEvents, droppedBytes } = recorder.stats();
    expect(droppedEvents).toBeGreaterThan(0);
    const samples = await scrape(base);
    expect(samples.get(EVENTS)).toBe(droppedEvents);
    expect(samples.get(BYTES)).toBe(droppedBytes);
  });

  it('exposes the recording proxy recorder drops, and stops with the proxy', async () => {
    h = await startHarness({ servers: [], startProxy: false });
    dir = mkdtempSync(join(tmpdir(), 'record-metrics-'));
    const logger = silentLogger();
    recorder = await Recorder.open({ file: join(dir, 'p.jsonl'), side: 'proxy', queueLimitEvents: 2, queueLimitBytes: 1024, thread: false });
    const metrics = new Metrics({ role: 'proxy', version: 'test', defaultMetrics: false });
    proxy = startProxy(h.proxyConfig, { logger, auditLogger: logger, metrics, recorder });
    await proxy.ready;
    ops = await startOpsServer({ listen: { host: '127.0.0.1', port: 0 }, ready: () => ({ ready: true }), metrics, logger });
    const tap = recorder.exchange({ id: 'x1', server: 'notes' });
    for (let i = 0; i < 10; i += 1) tap.responseChunk(Buffer.alloc(64, 0x62));
    expect((await scrape(ops.url)).get(BYTES)).toBe(recorder.stats().droppedBytes);
    expect(recorder.stats().droppedBytes).toBeGreaterThan(0);
    await proxy.close(0);
    proxy = null;
    expect((await scrape(ops.url)).has(EVENTS)).toBe(false);
  });

  it('has no series without a recorder, sums several recorders, and removes the series with the last one', async () => {
    const metrics = new Metrics({ role: 'proxy', version: 'test', defaultMetrics: false });
    const logger = silentLogger();
    ops = await startOpsServer({ listen: { host: '127.0.0.1', port: 0 }, ready: () => ({ ready: true }), metrics, logger });
    const base = ops.url;
    expect((await scrape(base)).has(EVENTS)).toBe(false);
    const a = meterRecorder(metrics, () => ({ droppedEvents: 2, droppedBytes: 20 }));
    const b = meterRecorder(metrics, () => undefined); // still opening: nothing dropped
    const c = meterRecorder(metrics, () => ({ droppedEvents: 3, droppedBytes: 30 }));
    expect((await scrape(base)).get(BYTES)).toBe(50);
    a();
    b();
    expect((await scrape(base)).get(EVENTS)).toBe(3);
    c();
    expect((await scrape(base)).has(EVENTS)).toBe(false);
  });
});
