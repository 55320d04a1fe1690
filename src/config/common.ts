import type convict from 'convict';
import type { FlowConfig } from './types';
import { ENV_PREFIX, LOG_LEVELS } from './constants';

/** Schema pieces both the gateway and the proxy use, with the same env vars and defaults. */

export function flowSchema(): convict.Schema<FlowConfig> {
  return {
    streamWindow: {
      doc: 'Bytes the peer may send on one stream before we grant more (our receive window per stream).',
      format: 'mcp-tunnel-positive-int',
      default: 262144,
      env: `${ENV_PREFIX}FLOW_STREAM_WINDOW`,
    },
    connectionWindow: {
      doc: 'Bytes the peer may have outstanding across all streams of one tunnel connection.',
      format: 'mcp-tunnel-positive-int',
      default: 16777216,
      env: `${ENV_PREFIX}FLOW_CONNECTION_WINDOW`,
    },
    maxFrameSize: {
      doc: 'Largest DATA frame payload accepted, in bytes.',
      format: 'mcp-tunnel-positive-int',
      default: 65536,
      env: `${ENV_PREFIX}FLOW_MAX_FRAME_SIZE`,
    },
  };
}

export function heartbeatSchema(): convict.Schema<{ intervalMs: number }> {
  return {
    intervalMs: {
      doc: 'Interval between heartbeat pings on an idle tunnel connection; a peer silent for longer is dropped.',
      format: 'mcp-tunnel-positive-int',
      default: 15000,
      env: `${ENV_PREFIX}HEARTBEAT_MS`,
    },
  };
}

export function logSchema(): convict.Schema<{ level: string }> {
  return {
    level: {
      doc: `Log level: ${LOG_LEVELS.join(', ')}.`,
      format: 'mcp-tunnel-log-level',
      default: 'info',
      env: `${ENV_PREFIX}LOG_LEVEL`,
    },
  };
}

export function auditSchema(): convict.Schema<{ destination: string }> {
  return {
    destination: {
      doc: 'Where audit records (one JSON line per request) go: stdout, stderr, or a file path.',
      format: 'mcp-tunnel-text',
      default: 'stdout',
      env: `${ENV_PREFIX}AUDIT`,
    },
  };
}
