import type convict from 'convict';
import type { AuditConfig, FlowConfig } from './types';
import { ConfigError } from './errors';
import { checkReadableFile } from './loader';
import { ENV_PREFIX, LOG_FORMATS, LOG_LEVELS, type LogFormat } from './constants';

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

/** Stream and head limits shared by gateway and proxy (one env var each: the same meaning on both). */
export function streamLimitSchema(maxStreamsDoc: string): {
  maxStreams: convict.SchemaObj<number>;
  maxHeaderBytes: convict.SchemaObj<number>;
} {
  return {
    maxStreams: {
      doc: maxStreamsDoc,
      format: 'mcp-tunnel-positive-int',
      // 8192: two connections (the proxy's default) carry 10,000 long-lived streams (issue 10). A
      // stream's buffered bytes are bounded by the connection window, not by this count.
      default: 8192,
      env: `${ENV_PREFIX}MAX_STREAMS`,
    },
    maxHeaderBytes: {
      doc: 'Largest HEADERS / CONTROL frame payload accepted, in bytes.',
      format: 'mcp-tunnel-positive-int',
      default: 65536,
      env: `${ENV_PREFIX}MAX_HEADER_BYTES`,
    },
  };
}

export function logSchema(): convict.Schema<{ level: string; format: LogFormat }> {
  return {
    level: {
      doc: `Log level: ${LOG_LEVELS.join(', ')}. Applied again on SIGHUP; SIGUSR2 cycles info → debug → trace → info.`,
      format: 'mcp-tunnel-log-level',
      default: 'info',
      env: `${ENV_PREFIX}LOG_LEVEL`,
    },
    format: {
      doc: `Log format: ${LOG_FORMATS.join(', ')} (auto: pretty on a terminal, JSON lines otherwise). Also --log-format.`,
      format: 'mcp-tunnel-log-format',
      default: 'auto',
      env: `${ENV_PREFIX}LOG_FORMAT`,
    },
  };
}

export function auditSchema(): convict.Schema<AuditConfig> {
  return {
    destination: {
      doc: 'Where audit records (one JSON line per request) go: stdout, stderr, or a file path (reopened on SIGHUP, for logrotate).',
      format: 'mcp-tunnel-text',
      default: 'stdout',
      env: `${ENV_PREFIX}AUDIT`,
    },
    sync: {
      doc: 'Write an audit file synchronously (true: each record reaches the file before the request goes on, no thread-pool hop per record; a stalled disk stalls the process) or asynchronously (false: written through the thread pool, buffered up to 8 MiB, records beyond dropped and counted; for network filesystems). stdout/stderr are always synchronous.',
      format: 'mcp-tunnel-boolean',
      default: true,
      env: `${ENV_PREFIX}AUDIT_SYNC`,
    },
    hmacKeyFile: {
      doc: 'File holding the HMAC-SHA256 key (at least 32 bytes; trailing whitespace ignored) that signs audit checkpoints. Unset, with audit.signingKeyFile unset: no checkpoints (records are still hash-chained). See docs/audit.md.',
      format: 'mcp-tunnel-optional-path',
      default: null,
      env: `${ENV_PREFIX}AUDIT_HMAC_KEY_FILE`,
    },
    signingKeyFile: {
      doc: 'PEM Ed25519 private key file that signs audit checkpoints (verify with its public key). Not together with audit.hmacKeyFile.',
      format: 'mcp-tunnel-optional-path',
      default: null,
      env: `${ENV_PREFIX}AUDIT_SIGNING_KEY_FILE`,
    },
    checkpoint: {
      every: {
        doc: 'A signed checkpoint record follows every this many audit records (0 = by time and at shutdown only).',
        format: 'mcp-tunnel-nat',
        default: 1000,
        env: `${ENV_PREFIX}AUDIT_CHECKPOINT_EVERY`,
      },
      intervalMs: {
        doc: 'A signed checkpoint is written this often when records were written since the last one (0 = by count and at shutdown only).',
        format: 'mcp-tunnel-nat',
        default: 60000,
        env: `${ENV_PREFIX}AUDIT_CHECKPOINT_INTERVAL_MS`,
      },
    },
    bodies: {
      enabled: {
        doc: 'Record request and response bodies in gateway audit records (JSON parsed, SSE as its messages). Off by default: bodies may hold personal data.',
        format: 'mcp-tunnel-boolean',
        default: false,
        env: `${ENV_PREFIX}AUDIT_BODIES`,
      },
      maxBytes: {
        doc: 'Largest body recorded; a larger one is recorded as {"truncated": true, "bytes": N}.',
        format: 'mcp-tunnel-positive-int',
        default: 65536,
        env: `${ENV_PREFIX}AUDIT_BODIES_MAX_BYTES`,
      },
      redact: {
        doc: 'JSON paths replaced by "[redacted]" in recorded bodies: comma-separated dot paths, * for any key or index (e.g. params.arguments.password,result.content.*.text).',
        format: 'mcp-tunnel-json-paths',
        default: [],
        env: `${ENV_PREFIX}AUDIT_BODIES_REDACT`,
      },
    },
  };
}

/**
 * Checks the audit settings the schema cannot (one checkpoint key at most, readable key file).
 * @throws ConfigError
 */
export function resolveAudit(raw: AuditConfig): AuditConfig {
  if (raw.hmacKeyFile !== null && raw.signingKeyFile !== null) {
    throw new ConfigError({ key: 'audit.signingKeyFile', problem: 'set audit.hmacKeyFile or audit.signingKeyFile, not both' });
  }
  if (raw.hmacKeyFile !== null) checkReadableFile('audit.hmacKeyFile', raw.hmacKeyFile);
  if (raw.signingKeyFile !== null) checkReadableFile('audit.signingKeyFile', raw.signingKeyFile);
  return { ...raw, checkpoint: { ...raw.checkpoint }, ...(raw.bodies ? { bodies: { ...raw.bodies, redact: [...raw.bodies.redact] } } : {}) };
}

/** `ops.listen`: the ops listener (docs/operations.md); off (null) unless set. */
export function opsSchema(): convict.Schema<{ listen: string | null }> {
  return {
    listen: {
      doc: 'Ops listener (GET /healthz, /readyz, /metrics; gateway: /status) as HOST:PORT with an IP literal or localhost, e.g. 127.0.0.1:9464; off when unset. Also --ops-listen.',
      format: 'mcp-tunnel-ops-listen',
      default: null,
      env: `${ENV_PREFIX}OPS_LISTEN`,
    },
  };
}
