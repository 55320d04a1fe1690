import { TunnelError } from '../errors';

/** Stable codes of the ops listener, `mcp-tunnel health` / `status` and sd_notify (documented in docs/errors.md). */
export const OPS_CODES = {
  /** `--ops-listen` / `ops.listen` is not `HOST:PORT` with an IP literal or `localhost` and a port 0-65535. */
  listenInvalid: 'TUNNEL_OPS_LISTEN_INVALID',
  /** The ops listener could not bind (port in use, address not local, permission). */
  listenFailed: 'TUNNEL_OPS_LISTEN_FAILED',
  /** A request to the ops listener named a host that is neither an IP literal, `localhost`, nor allowed. */
  hostDenied: 'TUNNEL_OPS_HOST_DENIED',
  /** No such ops endpoint (only `/healthz`, `/readyz`, `/metrics`, gateway `/status`). */
  notFound: 'TUNNEL_OPS_NOT_FOUND',
  /** A method other than GET or HEAD on an ops endpoint. */
  methodNotAllowed: 'TUNNEL_OPS_METHOD_NOT_ALLOWED',
  /** The readiness callback threw; the endpoint answers 503. */
  readinessFailed: 'TUNNEL_OPS_READINESS_FAILED',
  /** Collecting the Prometheus metrics failed; `/metrics` answers 500. */
  metricsFailed: 'TUNNEL_OPS_METRICS_FAILED',
  /** `mcp-tunnel health`: bad arguments or a URL that is not `http://HOST:PORT`. */
  healthUsage: 'TUNNEL_HEALTH_USAGE',
  /** `mcp-tunnel health`: the ops listener could not be reached or did not answer in time. */
  healthUnreachable: 'TUNNEL_HEALTH_UNREACHABLE',
  /** `mcp-tunnel health`: `/readyz` answered, but not 200 with `"ready": true`. */
  healthNotReady: 'TUNNEL_HEALTH_NOT_READY',
  /** `mcp-tunnel status`: bad arguments, a URL that is not `http://HOST:PORT`, or a config without `ops.listen`. */
  statusUsage: 'TUNNEL_STATUS_USAGE',
  /** `mcp-tunnel status`: the ops listener could not be reached or did not answer in time. */
  statusUnreachable: 'TUNNEL_STATUS_UNREACHABLE',
  /** `mcp-tunnel status`: the listener answered, but not 200 with a status report (not a gateway's ops listener?). */
  statusBadAnswer: 'TUNNEL_STATUS_BAD_ANSWER',
  /** sd_notify: `NOTIFY_SOCKET` is set but cannot be used (abstract socket, addon missing). */
  sdNotifyUnavailable: 'TUNNEL_SD_NOTIFY_UNAVAILABLE',
  /** sd_notify: a datagram could not be sent (the manager's socket is gone or congested). */
  sdNotifySendFailed: 'TUNNEL_SD_NOTIFY_SEND_FAILED',
} as const;

export type OpsCode = (typeof OPS_CODES)[keyof typeof OPS_CODES];

/** An error of the ops component; `code` is one of {@link OPS_CODES}. */
export class OpsError extends TunnelError {
  constructor(code: OpsCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(code, message, options);
    this.name = 'OpsError';
  }
}
