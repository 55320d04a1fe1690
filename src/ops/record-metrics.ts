import type { Registry } from 'prom-client';
import type { Metrics } from './metrics';

/** What a recorder reports (`Recorder.stats()`, src/replay); only the drop counts are read. */
export interface RecorderDrops {
  droppedEvents: number;
  droppedBytes: number;
}

/** `undefined` while the recording is not open yet (or failed to open): counted as nothing dropped. */
export type DropSource = () => RecorderDrops | undefined;

const FAMILIES: Array<[name: string, help: string, read: (d: RecorderDrops) => number]> = [
  ['mcp_tunnel_record_dropped_events_total', 'Recording events dropped because the recorder fell behind (traffic was not affected).', (d) => d.droppedEvents],
  ['mcp_tunnel_record_dropped_bytes_total', 'Bytes of recording events dropped because the recorder fell behind.', (d) => d.droppedBytes],
];

/** The recorders metered by each Metrics (a gateway and a proxy may share one in a process). */
const sources = new WeakMap<Metrics, Set<DropSource>>();

/**
 * Exposes a recorder's drops (docs/replay.md "Recording") as two counters, read from `stats()` at
 * scrape time: the traffic path does nothing more than the recorder already does. Only processes that
 * record get the series. Returns the teardown (the series go when the last recorder is unmetered).
 */
export function meterRecorder(metrics: Metrics, stats: DropSource): () => void {
  let set = sources.get(metrics);
  if (set === undefined) {
    const mine = new Set<DropSource>();
    set = mine;
    sources.set(metrics, mine);
    for (const [name, help, read] of FAMILIES) {
      const value = (): number =>
        [...mine].reduce((sum, source) => {
          const d = source();
          return sum + (d === undefined ? 0 : read(d));
        }, 0);
      const get = async () => ({ name, help, type: 'counter', aggregator: 'sum', values: [{ labels: {}, value: value() }] });
      // Same custom-collector shape as Metrics' request families (prom-client's Metric type insists on private members).
      const metric = { name, help, type: 'counter', aggregator: 'sum', get, reset: () => undefined };
      metrics.registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
    }
  }
  set.add(stats);
  const own = set;
  return () => {
    own.delete(stats);
    if (own.size > 0) return;
    sources.delete(metrics);
    for (const [name] of FAMILIES) metrics.registry.removeSingleMetric(name);
  };
}
