/**
 * Optional capture of request and response bodies for the audit record (off by default).
 *
 * Bounded: at most `maxBytes` of a body are kept; a larger body is recorded as
 * `{ "truncated": true, "bytes": N }`. JSON bodies are recorded parsed, SSE bodies as the list of
 * JSON-RPC messages their `data:` lines carry, anything else as `{ "bytes": N, "contentType": … }`.
 * Configured JSON paths are replaced by "[redacted]" before the record is written.
 */

export interface BodyCaptureConfig {
  enabled: boolean;
  maxBytes: number;
  /** Dot paths (`params.arguments.password`); `*` matches any key or array index. */
  redact: readonly string[];
}

export const REDACTED = '[redacted]';

export class BodyCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;

  constructor(private readonly config: BodyCaptureConfig) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.kept + chunk.length <= this.config.maxBytes) {
      this.chunks.push(chunk);
      this.kept += chunk.length;
    } else {
      this.kept = this.config.maxBytes + 1; // over the limit: keep nothing more
      this.chunks.length = 0;
    }
  }

  /** The recorded form of the body; never throws. */
  result(contentType: string | undefined): unknown {
    if (this.total === 0) return null;
    if (this.kept > this.config.maxBytes) return { truncated: true, bytes: this.total };
    const text = Buffer.concat(this.chunks).toString('utf8');
    const type = (contentType ?? '').toLowerCase();
    try {
      if (type.startsWith('text/event-stream')) {
        return redact(sseMessages(text), this.config.redact);
      }
      return redact(JSON.parse(text) as unknown, this.config.redact);
    } catch {
      return { bytes: this.total, contentType: contentType ?? null };
    }
  }
}

/** The JSON values of an SSE body's events (`data:` lines joined per event); non-JSON data is skipped. */
function sseMessages(text: string): unknown[] {
  const out: unknown[] = [];
  for (const block of text.split(/\r\n\r\n|\n\n|\r\r/)) {
    const data = block
      .split(/\r\n|\n|\r/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.replace(/^data: ?/, ''))
      .join('\n');
    if (data.trim() === '') continue;
    try {
      out.push(JSON.parse(data) as unknown);
    } catch {
      /* keep-alive or non-JSON payload: not a message */
    }
  }
  return out;
}

/** A deep copy of `value` with every configured path replaced by "[redacted]" (also inside batches/arrays of messages). */
export function redact(value: unknown, paths: readonly string[]): unknown {
  if (paths.length === 0) return value;
  const copy = structuredClone(value);
  const roots = Array.isArray(copy) ? copy : [copy];
  for (const root of roots) for (const p of paths) redactPath(root, p.split('.'));
  return copy;
}

function redactPath(node: unknown, segments: string[]): void {
  if (typeof node !== 'object' || node === null || segments.length === 0) return;
  const [head, ...rest] = segments as [string, ...string[]];
  const obj = node as Record<string, unknown>;
  const keys = head === '*' ? Object.keys(obj) : Object.prototype.hasOwnProperty.call(obj, head) ? [head] : [];
  for (const k of keys) {
    if (rest.length === 0) obj[k] = REDACTED;
    else redactPath(obj[k], rest);
  }
}
