/** Operations: the ops listener (/healthz, /readyz, /metrics), metrics, sd_notify and `mcp-tunnel health`. */
export { OPS_CODES, OpsError, type OpsCode } from './errors';
export { DEFAULT_OPS_LISTEN, parseOpsListen, type OpsListenAddress } from './listen-address';
export { LoopMonitor, systemLoopClock, type LoopClock, type LoopMonitorOptions, type LoopStatus } from './loop-monitor';
export {
  Metrics,
  ServerMetrics,
  TunnelMetrics,
  CONNECTION_STATES,
  DEFAULT_DURATION_BUCKETS,
  type ConnectionState,
  type MetricsOptions,
  type MetricsRole,
} from './metrics';
export { startOpsServer, type OpsServer, type OpsServerOptions, type Readiness, type TunnelReadiness, type Liveness } from './ops-server';
export { SdNotifier, loadUnixDgramSender, type DatagramSender, type SdNotifierOptions } from './sd-notify';
export { runHealth, parseHealthArgs, HEALTH_USAGE, type HealthIo } from './health-command';
export { meterCluster } from './cluster-metrics';
export { requestObserver, meterGateway, meterProxy, type MeteredGateway, type MeteredProxy, type ObservableTrail } from './component-metrics';
export { statusReport, type ClusterStatus, type ConnectionSnapshot, type GatewaySnapshot, type StatusReport } from './status-report';
export { opsBaseUrl, getOps, MAX_OPS_BODY_BYTES } from './ops-client';
export { parseStatusReport, renderStatusTable, formatAge } from './status-table';
export { meterRecorder, type RecorderDrops, type DropSource } from './record-metrics';
