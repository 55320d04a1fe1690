/**
 * The recording format (docs/replay.md, "Format"): JSON Lines, one header line, one line per wire
 * event, one footer line per file. Every line is a complete JSON object, written whole, so a process
 * killed mid-recording leaves a file that reads up to its last complete line.
 */

/** `format` of the header line; bump {@link FORMAT_VERSION} on any incompatible change. */
export const FORMAT_NAME = 'mcp-tunnel-recording';
export const FORMAT_VERSION = 1;

/** Header pairs in the order they were seen; repeated names stay repeated. */
export type HeaderPairs = Array<[string, string]>;

/** A body (chunk): `text` when the bytes are valid UTF-8 (byte-exact round trip), else `b64`. */
export type BodyData = { text: string } | { b64: string };

/** Who recorded: the gateway, the proxy, or a test harness standing in for one of them. */
export interface RecorderInfo {
  name: 'mcp-tunnel';
  version: string;
  side: 'gateway' | 'proxy' | 'test';
}

/** The redaction rules in force, without the key (only a key id derived from it). */
export interface RedactionInfo {
  method: 'hmac-sha256';
  keyId: string;
  headers: string[];
  queryParams: string[];
  pointers: string[];
  patterns: string[];
}

export interface HeaderRecord {
  type: 'header';
  format: typeof FORMAT_NAME;
  version: typeof FORMAT_VERSION;
  recorder: RecorderInfo;
  startedAt: string;
  /** 1 for the first file; rotation continues in part 2, 3, … (footer `next`). */
  part: number;
  redaction: RedactionInfo;
}

/** Fields every wire event carries. `t` is ms since the recorder started (monotonic clock). */
export interface EventBase {
  seq: number;
  t: number;
  /** Exchange id: the tunnel's request id (`rid`). */
  x: string;
  server: string;
  session: string | null;
  dir: 'c2s' | 's2c';
  /** Where redaction replaced a value: `header:<name>`, `query:<name>`, a JSON Pointer, `pattern:<i>`. */
  redacted?: string[];
}

export interface RequestHeadRecord extends EventBase {
  type: 'request-head';
  method: string;
  /** Path and query as the recorder saw them. */
  path: string;
  headers: HeaderPairs;
}

export interface ResponseHeadRecord extends EventBase {
  type: 'response-head';
  status: number;
  headers: HeaderPairs;
}

/** A body chunk; `whole` when it is the entire body (small bodies are written in one record). */
export interface BodyRecord extends EventBase {
  type: 'request-body' | 'response-body';
  body: BodyData;
  whole: boolean;
}

/** One SSE event as parsed fields (WHATWG rules), or one comment line. */
export interface SseRecord extends EventBase {
  type: 'sse';
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
  comment?: string;
}

/** The exchange finished normally (`end`) or was reset/aborted (`reset`, with the reason). */
export interface EndRecord extends EventBase {
  type: 'end' | 'reset';
  reason?: string;
}

export type WireRecord = RequestHeadRecord | ResponseHeadRecord | BodyRecord | SseRecord | EndRecord;

/** Written when the recorder catches up after dropping events (queue full). */
export interface DropRecord {
  type: 'drop';
  seq: number;
  t: number;
  events: number;
  bytes: number;
}

export interface FooterRecord {
  type: 'footer';
  seq: number;
  t: number;
  endedAt: string;
  counts: { exchanges: number; events: number; bytes: number };
  dropped: { events: number; bytes: number };
  /** File name (same directory) of the next part, when the size cap rotated the recording. */
  next?: string;
}

export type RecordingLine = HeaderRecord | WireRecord | DropRecord | FooterRecord;

/** Encodes bytes as `text` when they survive a UTF-8 round trip exactly, else as base64. */
export function encodeBody(bytes: Buffer): BodyData {
  const text = bytes.toString('utf8');
  return Buffer.byteLength(text) === bytes.length && Buffer.from(text, 'utf8').equals(bytes)
    ? { text }
    : { b64: bytes.toString('base64') };
}

/** The bytes of a {@link BodyData}. */
export function decodeBody(data: BodyData): Buffer {
  return 'text' in data ? Buffer.from(data.text, 'utf8') : Buffer.from(data.b64, 'base64');
}
