import { isPlaceholder } from './redact';

/** One RFC 6902 operation; `was` (ignored by appliers, RFC 6902 §4) keeps the recorded value for reports. */
export interface PatchOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
  was?: unknown;
}

export interface DiffOptions {
  /** Paths (JSON Pointers, `*` matches one token) whose values are not compared. */
  ignore?: readonly string[];
  /** Compare strings under `…/content/N/text` that both hold JSON as JSON. Default true. */
  textAsJson?: boolean;
  /** A recorded redaction placeholder equals any live string. Default true. */
  placeholders?: boolean;
  /** Strings that both look like RFC 3339 timestamps are equal. Default true. */
  ignoreTimestamps?: boolean;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

function esc(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function ignored(path: string, ignore: readonly string[]): boolean {
  const toks = path.split('/');
  return ignore.some((pat) => {
    const p = pat.split('/');
    return p.length === toks.length && p.every((t, i) => t === '*' || t === toks[i]);
  });
}

function parseJsonText(s: string): unknown {
  const t = s.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The JSON Patch that turns `recorded` into `live` (paths are JSON Pointers into the recorded value;
 * arrays compared index by index). Under `…/content/N/text`, two JSON texts are compared as JSON and
 * the pointer continues into the parsed text.
 */
export function diffJson(recorded: unknown, live: unknown, opts: DiffOptions = {}, path = ''): PatchOp[] {
  const o = { textAsJson: true, placeholders: true, ignoreTimestamps: true, ignore: [], ...opts };
  if (path !== '' && ignored(path, o.ignore)) return [];
  if (typeof recorded === 'string' && typeof live === 'string') {
    if (recorded === live) return [];
    if (o.placeholders && isPlaceholder(recorded)) return [];
    if (o.ignoreTimestamps && TIMESTAMP.test(recorded) && TIMESTAMP.test(live)) return [];
    if (o.textAsJson && /\/content\/\d+\/text$/.test(path)) {
      const a = parseJsonText(recorded);
      const b = parseJsonText(live);
      if (a !== undefined && b !== undefined) return diffJson(a, b, o, path);
    }
    return [{ op: 'replace', path, value: live, was: recorded }];
  }
  if (Array.isArray(recorded) && Array.isArray(live)) {
    const ops: PatchOp[] = [];
    const n = Math.min(recorded.length, live.length);
    for (let i = 0; i < n; i++) ops.push(...diffJson(recorded[i], live[i], o, `${path}/${i}`));
    for (let i = n; i < live.length; i++) ops.push({ op: 'add', path: `${path}/-`, value: live[i] });
    for (let i = recorded.length - 1; i >= n; i--) ops.push({ op: 'remove', path: `${path}/${i}`, was: recorded[i] });
    return ops;
  }
  if (isObject(recorded) && isObject(live)) {
    const ops: PatchOp[] = [];
    for (const k of Object.keys(recorded)) {
      const p = `${path}/${esc(k)}`;
      if (!(k in live)) {
        if (!ignored(p, o.ignore)) ops.push({ op: 'remove', path: p, was: recorded[k] });
      } else ops.push(...diffJson(recorded[k], live[k], o, p));
    }
    for (const k of Object.keys(live)) {
      const p = `${path}/${esc(k)}`;
      if (!(k in recorded) && !ignored(p, o.ignore)) ops.push({ op: 'add', path: p, value: live[k] });
    }
    return ops;
  }
  if (Object.is(recorded, live)) return [];
  return [{ op: 'replace', path, value: live, was: recorded }];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
