/**
 * Human-readable log lines for a terminal (`log.format` `pretty`, or `auto` on a TTY). pino still
 * builds its JSON line (redaction included); this destination turns each line into
 *
 *     10:37:06.123 INFO  gateway: gateway listening url=http://127.0.0.1:8080 tunnels=["corp"]
 *         hint: …
 *
 * Our own ~100 lines instead of pino-pretty: no dependency, no worker thread, and the CLI loads this
 * module only when pretty output was chosen (decisions.md D30).
 */
import type { DestinationStream } from 'pino';
import { F } from './fields';

/** What the pretty destination writes to (pino's SonicBoom destination has this shape). */
export interface TextSink {
  write(text: string): unknown;
  flush?(cb?: (err?: Error) => void): void;
  flushSync?(): void;
}

export interface PrettyOptions {
  /** ANSI colours (a terminal that wants them: not under NO_COLOR). */
  colors: boolean;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields shown in the line's head, or not at all (pino's own bookkeeping). */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', F.component, 'hint']);

function paint(colors: boolean, code: string, text: string): string {
  return colors ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/** `HH:MM:SS.mmm` of pino's ISO time (or epoch ms), in UTC like the JSON lines. */
function clock(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  return Number.isNaN(date.getTime()) ? String(time) : date.toISOString().slice(11, 23);
}

/** A field as text: strings as they are, anything else as JSON. */
function asText(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
}

function showValue(key: string, value: unknown): string {
  if (key === F.err && value !== null && typeof value === 'object') {
    // pino's err serializer: show type and message; the stack stays in JSON output.
    const e = value as { type?: unknown; message?: unknown; code?: unknown };
    return JSON.stringify(`${typeof e.code === 'string' ? `${e.code}: ` : ''}${asText(e.message ?? e.type ?? 'error')}`);
  }
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * One pino JSON line → one human line (plus an indented `hint:` line when the entry has a hint).
 * A line that is not a JSON object is passed through unchanged.
 */
export function prettyLine(line: string, opts: PrettyOptions): string {
  let entry: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line.endsWith('\n') ? line : `${line}\n`;
    entry = parsed as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = typeof entry.level === 'number' ? entry.level : 30;
  const name = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const head = [paint(opts.colors, '90', clock(entry.time)), paint(opts.colors, LEVEL_COLORS[level] ?? '0', name)];
  if (typeof entry[F.component] === 'string') head.push(paint(opts.colors, '1', `${entry[F.component] as string}:`));
  head.push(asText(entry.msg ?? ''));
  const fields = Object.entries(entry)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${paint(opts.colors, '90', `${k}=`)}${showValue(k, v)}`);
  const hint = typeof entry.hint === 'string' ? `\n    ${paint(opts.colors, '1', 'hint:')} ${entry.hint}` : '';
  return `${[...head, ...fields].join(' ')}${hint}\n`;
}

/** A pino destination writing {@link prettyLine}s to `sink`; flushes pass through to it. */
export function prettyDestination(sink: TextSink, opts: PrettyOptions): DestinationStream & Pick<TextSink, 'flush' | 'flushSync'> {
  return {
    write: (line: string) => {
      sink.write(prettyLine(line, opts));
    },
    flush: (cb) => (sink.flush ? sink.flush(cb) : cb?.()),
    flushSync: () => sink.flushSync?.(),
  };
}
