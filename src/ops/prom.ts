/**
 * The parts of prom-client the metrics use, loaded by file rather than through `require('prom-client')`
 * (D80), as src/dispatch/undici.ts does for undici. The package index also loads the push gateway,
 * the cluster aggregator, summaries, and every default metric, among them `processCpuTotal`, which
 * requires `@opentelemetry/api` (51 modules, ~23 ms of start-up) only to attach exemplars we never
 * enable. {@link collectDefaultMetrics} registers the same default metrics, with the same names,
 * help texts and values, the process CPU counters from {@link registerProcessCpu} below.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- loading by file, see above */
import type * as PromClient from 'prom-client';

export const Registry = require('prom-client/lib/registry') as typeof PromClient.Registry;
export const Counter = require('prom-client/lib/counter') as typeof PromClient.Counter;
export const Gauge = require('prom-client/lib/gauge') as typeof PromClient.Gauge;
export type Registry = PromClient.Registry;
export type Counter<L extends string = string> = PromClient.Counter<L>;
export type Gauge<L extends string = string> = PromClient.Gauge<L>;

type DefaultMetric = (registry: Registry, config: { eventLoopMonitoringPrecision: number }) => void;

/** prom-client's default metrics (lib/defaultMetrics.js, 15.1) except `processCpuTotal`, in its order. */
const DEFAULT_METRIC_FILES = [
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'eventLoopLag',
  ...(typeof (process as { getActiveResourcesInfo?: unknown }).getActiveResourcesInfo === 'function' ? ['processResources'] : []),
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
] as const;

/** What prom-client's `collectDefaultMetrics({ register })` registers, without loading OpenTelemetry. */
export function collectDefaultMetrics(registry: Registry): void {
  registerProcessCpu(registry);
  const config = { eventLoopMonitoringPrecision: 10 };
  for (const name of DEFAULT_METRIC_FILES) (require(`prom-client/lib/metrics/${name}`) as DefaultMetric)(registry, config);
}

/**
 * `process_cpu_user_seconds_total`, `process_cpu_system_seconds_total` and `process_cpu_seconds_total`
 * as prom-client's processCpuTotal.js defines them (same help texts; each scrape adds the CPU time
 * used since the previous one, counted from registration), without its exemplar support.
 */
function registerProcessCpu(registry: Registry): void {
  const registers = [registry];
  let last = process.cpuUsage();
  const user: Counter = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers,
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  const system = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers });
  const total = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers });
}
