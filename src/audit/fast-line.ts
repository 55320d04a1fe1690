import { REDACT_PATHS } from '../log';
import { AUDIT } from './fields';
import { AUDIT_MSG } from './fields';

/**
 * The audit destination's fast path for one record (issue 10, hot path): the line pino would write
 * (`level`, `time`, `audit`, `pid`, the record's fields, `msg`), built with one `JSON.stringify`
 * instead of pino's serialiser and its redaction pass, and handed to the chain together with the
 * object it was made from, so that sealing does not parse the line back.
 *
 * Only for records that redaction cannot touch and that survive a JSON round trip unchanged: every
 * value a string, a finite number, a boolean or null, a flat object of those whose keys no
 * redaction path names (the `policy` decision), or an array of strings (`conns` of a resumed SSE
 * response: no redaction path reaches into a string). Anything else (captured bodies, odd values) returns
 * null and takes the pino path, so the bytes are redacted and the hash is exact either way:
 * `JSON.parse(line)` of a line built here equals the object it was built from.
 */

/** Top-level keys some redaction path names (`secret`, `headers` of `headers.cookie`, …). */
const REDACTED_TOP = new Set(REDACT_PATHS.filter((p) => !p.startsWith('*')).map((p) => p.split(/[.[]/)[0]!));
/** Second-level keys some `*.x` path names (`*.key`, `*.headers.cookie` → `headers`, …). */
const REDACTED_NESTED = new Set(REDACT_PATHS.filter((p) => p.startsWith('*.')).map((p) => p.slice(2).split(/[.[]/)[0]!));

const isScalar = (v: unknown): boolean =>
  v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v) && !Object.is(v, -0));

function isFlatObject(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const [k, inner] of Object.entries(v)) if (REDACTED_NESTED.has(k) || !isScalar(inner)) return false;
  return true;
}

const isStringArray = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === 'string');

export interface FastLine {
  line: string;
  /** What `JSON.parse(line)` returns; the chain adds its fields to it. */
  parsed: Record<string, unknown>;
}

/**
 * The line for a sanitised record, or null when the record must take the pino path (see above).
 * `keys`: the record's keys in order, when the caller knows them (the side's field list; a record's
 * absent optional fields are skipped): cheaper than listing them.
 */
export function fastAuditLine(
  record: Readonly<Record<string, unknown>>,
  pid: number,
  /** The line's `time`, as `Date.prototype.toISOString` writes it. */
  time: string,
  keys: readonly string[] = Object.keys(record),
): FastLine | null {
  const parsed: Record<string, unknown> = { level: 30, time, [AUDIT.audit]: true, pid };
  for (const k of keys) {
    const v = record[k];
    if (v === undefined) continue; // pino leaves undefined fields out too
    if (REDACTED_TOP.has(k) || k in parsed || k === 'msg') return null;
    if (!isScalar(v) && !isFlatObject(v) && !isStringArray(v)) return null;
    parsed[k] = v;
  }
  parsed['msg'] = AUDIT_MSG;
  return { line: `${JSON.stringify(parsed)}\n`, parsed };
}
