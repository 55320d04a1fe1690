import { parsePointer } from './redact';

/**
 * RFC 8785 (JCS) canonical JSON: object members sorted by UTF-16 code units, no whitespace, numbers
 * and strings serialised as ECMAScript's JSON.stringify does (which is what JCS specifies).
 */
export function canonicalize(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalize(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalize(obj[k])}`).join(',')}}`;
}

/** `_meta` keys that differ between two runs of the same request: progress tokens and trace context. */
export const VOLATILE_META_KEYS: readonly string[] = ['progressToken', 'traceparent', 'tracestate', 'baggage'];

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Deletes the value at a JSON Pointer, if present. */
export function removePointer(root: unknown, pointer: string): void {
  const tokens = parsePointer(pointer);
  const last = tokens.pop();
  if (last === undefined) return;
  let node: unknown = root;
  for (const t of tokens) {
    if (typeof node !== 'object' || node === null) return;
    node = (node as Record<string, unknown>)[t];
  }
  if (Array.isArray(node)) {
    const i = Number(last);
    if (Number.isInteger(i) && i >= 0 && i < node.length) node.splice(i, 1);
  } else if (typeof node === 'object' && node !== null) delete (node as Record<string, unknown>)[last];
}

/**
 * The params a request is matched on: a copy without volatile `_meta` keys (an emptied `_meta`
 * disappears) and without the configured ignore paths (JSON Pointers relative to `params`).
 */
export function matchParams(params: unknown, ignore: readonly string[] = []): unknown {
  const p = clone(params);
  if (typeof p === 'object' && p !== null && !Array.isArray(p)) {
    const meta = (p as Record<string, unknown>)._meta;
    if (typeof meta === 'object' && meta !== null) {
      for (const k of VOLATILE_META_KEYS) delete (meta as Record<string, unknown>)[k];
      if (Object.keys(meta).length === 0) delete (p as Record<string, unknown>)._meta;
    }
  }
  for (const ptr of ignore) removePointer(p, ptr);
  return p;
}
