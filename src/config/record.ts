import type convict from 'convict';
import { ENV_PREFIX } from './constants';
import { checkReadableFile } from './loader';
import type { RecordConfig } from './types';

/** `record` as convict holds it: `file` null = not recording. */
export interface RecordRaw {
  file: string | null;
  servers: string[] | null;
  maxFileBytes: number;
  queueBytes: number;
  hmacKeyFile: string | null;
  redact: RecordConfig['redact'];
}

/**
 * `record`: recording of forwarded traffic (docs/replay.md), the same keys on the gateway and the
 * proxy; off unless `record.file` (or `--record FILE`) is set.
 */
export function recordSchema(): convict.Schema<RecordRaw> {
  return {
    file: {
      doc: 'Record the traffic this process forwards to this JSON Lines file (docs/replay.md); off when unset. Also --record FILE. Relative to the config file.',
      format: 'mcp-tunnel-optional-path',
      default: null,
      env: `${ENV_PREFIX}RECORD_FILE`,
    },
    servers: {
      doc: 'Record only these servers (names as the gateway configures them); every server when unset.',
      format: 'mcp-tunnel-optional-names',
      default: null,
      env: `${ENV_PREFIX}RECORD_SERVERS`,
    },
    maxFileBytes: {
      doc: 'Size cap of one recording file: past it the recording continues in FILE.1, FILE.2, … (each with its own header and footer).',
      format: 'mcp-tunnel-positive-int',
      default: 1024 ** 3,
      env: `${ENV_PREFIX}RECORD_MAX_FILE_BYTES`,
    },
    queueBytes: {
      doc: 'Bytes the recorder accepts ahead of its file (recorded but not yet written) before it drops and counts: the burst a slow or stalled destination absorbs. Every accepted byte is held in memory and costs the traffic a copy, so a larger queue keeps more of a burst at a higher cost (docs/replay.md "Overhead").',
      format: 'mcp-tunnel-positive-int',
      default: 2 * 1024 ** 2,
      env: `${ENV_PREFIX}RECORD_QUEUE_BYTES`,
    },
    hmacKeyFile: {
      doc: 'File holding the key of the redaction placeholders (HMAC-SHA256; same key → same placeholder across recordings); a random key per recording when unset. Never written to the recording.',
      format: 'mcp-tunnel-optional-path',
      default: null,
      env: `${ENV_PREFIX}RECORD_HMAC_KEY_FILE`,
    },
    redact: {
      headers: {
        doc: 'Header names redacted besides Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key, Api-Key, X-Auth-Token (comma-separated).',
        format: 'mcp-tunnel-string-list',
        default: [],
        env: `${ENV_PREFIX}RECORD_REDACT_HEADERS`,
      },
      queryParams: {
        doc: 'Query parameters redacted besides api_key, apikey, key, token, access_token, secret (comma-separated).',
        format: 'mcp-tunnel-string-list',
        default: [],
        env: `${ENV_PREFIX}RECORD_REDACT_QUERY`,
      },
      pointers: {
        doc: 'JSON Pointers redacted in every JSON-RPC message of a body or SSE event, e.g. /params/arguments/password (comma-separated).',
        format: 'mcp-tunnel-json-pointers',
        default: [],
        env: `${ENV_PREFIX}RECORD_REDACT_POINTERS`,
      },
      patterns: {
        doc: 'Regular expressions whose matches are redacted in header values, paths, bodies and SSE data (a JSON array of strings).',
        format: 'mcp-tunnel-regexes',
        default: [],
        env: `${ENV_PREFIX}RECORD_REDACT_PATTERNS`,
      },
    },
  };
}

/**
 * The `record` settings, or null when not recording.
 * @throws ConfigError for an unreadable `record.hmacKeyFile`
 */
export function resolveRecord(raw: RecordRaw | undefined): RecordConfig | null {
  if (raw === undefined || raw.file === null) return null;
  if (raw.hmacKeyFile !== null) checkReadableFile('record.hmacKeyFile', raw.hmacKeyFile);
  const r = raw.redact;
  return {
    file: raw.file,
    servers: raw.servers === null ? null : [...raw.servers],
    maxFileBytes: raw.maxFileBytes,
    queueBytes: raw.queueBytes,
    hmacKeyFile: raw.hmacKeyFile,
    redact: { headers: [...r.headers], queryParams: [...r.queryParams], pointers: [...r.pointers], patterns: [...r.patterns] },
  };
}
