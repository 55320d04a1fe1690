/**
 * A tolerant, bounded scan of the first bytes of a JSON-RPC body that was too large to parse.
 *
 * It walks the JSON structure of the prefix with an explicit stack, records the top-level
 * `jsonrpc`, `method`, `id`, `result`/`error` and `params.name` (and each batch member's
 * `method`), and stops quietly at the first thing it cannot read: the cut, a syntax error, or
 * nesting deeper than `MAX_SCAN_DEPTH`. It never throws, never recurses, and does work linear in
 * the length of the prefix. Only the few strings it needs are decoded.
 */
import { JsonBytes } from '../http';
import { MAX_BATCH_METHODS, capString, idValue, type McpMessageKind, type McpMessageShape } from './mcp-info';

/** Containers nested deeper than this end the scan (only the top two levels matter). */
export const MAX_SCAN_DEPTH = 512;

const { QUOTE, COMMA, COLON, LBRACKET, RBRACKET, LBRACE, RBRACE, BACKSLASH } = JsonBytes;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;

type Expect = 'key' | 'colon' | 'value' | 'comma';

interface Frame {
  array: boolean;
  expect: Expect;
  /** Current member name; tracked only for the two outermost levels. */
  key: string | null;
}

type ValueKind = 'object' | 'array' | 'string' | 'number' | 'literal';

interface Findings {
  root: 'none' | 'object' | 'array' | 'scalar';
  rootClosed: boolean;
  jsonrpcSeen: boolean;
  jsonrpc: string | null;
  methodSeen: boolean;
  method: string | null;
  idSeen: boolean;
  id: string | number | null;
  resultOrError: boolean;
  paramsName: string | null;
  /** Batch: members started so far. */
  members: number;
  methods: string[];
  /** Batch: index in `methods` of the current member's method, if it has one. */
  memberSlot: number | null;
}

/** Scans `text` (a body prefix) and reports what it found; see the module comment. */
export function scanJsonRpcPrefix(text: string): McpMessageShape {
  const f: Findings = {
    root: 'none',
    rootClosed: false,
    jsonrpcSeen: false,
    jsonrpc: null,
    methodSeen: false,
    method: null,
    idSeen: false,
    id: null,
    resultOrError: false,
    paramsName: null,
    members: 0,
    methods: [],
    memberSlot: null,
  };
  walk(text, f);
  return conclude(f);
}

function conclude(f: Findings): McpMessageShape {
  const none: McpMessageShape = { kind: 'invalid', mcpMethod: null, jsonrpcId: null, tool: null, methods: null };
  if (f.root === 'array') {
    if (f.rootClosed && f.members === 0) return none;
    return { kind: 'batch', mcpMethod: 'batch', jsonrpcId: null, tool: null, methods: f.methods };
  }
  if (f.root !== 'object') return none;

  let kind: McpMessageKind;
  // The id may lie beyond the cut; only a closed object proves there is none.
  if (f.method !== null) kind = f.idSeen || !f.rootClosed ? 'request' : 'notification';
  else if (!f.methodSeen && f.resultOrError) kind = 'response';
  else kind = 'invalid';
  if (f.jsonrpcSeen ? f.jsonrpc !== '2.0' : f.rootClosed) kind = 'invalid';

  const tool = f.method === 'tools/call' ? f.paramsName : null;
  return { kind, mcpMethod: f.method, jsonrpcId: f.id, tool, methods: null };
}

function walk(text: string, f: Findings): void {
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    i = skipWhitespace(text, i);
    if (i >= n) return;
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];

    if (top !== undefined && top.expect === 'key') {
      if (c === RBRACE) {
        stack.pop();
        if (valueDone(stack, f)) return;
        i++;
        continue;
      }
      if (c !== QUOTE) return;
      const end = stringEnd(text, i);
      if (end < 0) return;
      top.key = stack.length <= 2 ? decodeString(text, i, end) : null;
      top.expect = 'colon';
      i = end;
      continue;
    }
    if (top !== undefined && top.expect === 'colon') {
      if (c !== COLON) return;
      top.expect = 'value';
      i++;
      continue;
    }
    if (top !== undefined && top.expect === 'comma') {
      if (c === COMMA) {
        top.expect = top.array ? 'value' : 'key';
        i++;
        continue;
      }
      if (c !== (top.array ? RBRACKET : RBRACE)) return;
      stack.pop();
      if (valueDone(stack, f)) return;
      i++;
      continue;
    }

    // A value is expected: at the root, after a colon, or as an array element.
    if (top !== undefined && top.array && c === RBRACKET) {
      stack.pop();
      if (valueDone(stack, f)) return;
      i++;
      continue;
    }
    if (c === LBRACE || c === LBRACKET) {
      if (stack.length >= MAX_SCAN_DEPTH) return;
      const array = c === LBRACKET;
      onValue(stack, f, array ? 'array' : 'object', text, i, i + 1);
      stack.push({ array, expect: array ? 'value' : 'key', key: null });
      i++;
      continue;
    }
    let end: number;
    let kind: ValueKind;
    if (c === QUOTE) {
      end = stringEnd(text, i);
      if (end < 0) return;
      kind = 'string';
    } else {
      const token = matchAt(NUMBER, text, i) ?? matchAt(LITERAL, text, i);
      if (token === null) return;
      end = i + token.length;
      // A number or literal that reaches the end of the prefix may itself be cut (`12` of `1234`).
      if (end >= n) return;
      const first = token.charCodeAt(0);
      kind = first === 0x2d || (first >= 0x30 && first <= 0x39) ? 'number' : 'literal';
    }
    onValue(stack, f, kind, text, i, end);
    if (valueDone(stack, f)) return;
    i = end;
  }
}

/** Marks the parent as expecting `,` after a finished value; true when the root value is done. */
function valueDone(stack: Frame[], f: Findings): boolean {
  const parent = stack[stack.length - 1];
  if (parent === undefined) {
    f.rootClosed = true;
    return true;
  }
  parent.expect = 'comma';
  return false;
}

/** Records a value that starts at `start` (for containers) or spans `start..end` (scalars). */
function onValue(stack: Frame[], f: Findings, kind: ValueKind, text: string, start: number, end: number): void {
  const depth = stack.length;
  const outer = stack[0];
  if (outer === undefined) {
    f.root = kind === 'object' || kind === 'array' ? kind : 'scalar';
    return;
  }
  if (depth === 1 && outer.array) {
    f.members++;
    f.memberSlot = null;
    return;
  }
  if (depth === 1) {
    topMember(f, outer.key, kind, text, start, end);
    return;
  }
  const inner = stack[1];
  if (depth !== 2 || inner === undefined || inner.array) return;
  if (!outer.array && outer.key === 'params' && inner.key === 'name') {
    f.paramsName = kind === 'string' ? capOrNull(decodeString(text, start, end)) : null;
  } else if (outer.array && inner.key === 'method') {
    batchMethod(f, kind === 'string' ? capOrNull(decodeString(text, start, end)) : null);
  }
}

// Duplicate keys: the last one wins, as with JSON.parse, so both parsers agree.
function topMember(f: Findings, key: string | null, kind: ValueKind, text: string, start: number, end: number): void {
  switch (key) {
    case 'jsonrpc':
      f.jsonrpcSeen = true;
      f.jsonrpc = kind === 'string' ? decodeString(text, start, end) : null;
      return;
    case 'method':
      f.methodSeen = true;
      f.method = kind === 'string' ? capOrNull(decodeString(text, start, end)) : null;
      return;
    case 'id':
      f.idSeen = true;
      if (kind === 'string') f.id = idValue(decodeString(text, start, end));
      else if (kind === 'number') f.id = idValue(Number(text.slice(start, end)));
      else f.id = null;
      return;
    case 'result':
    case 'error':
      f.resultOrError = true;
      return;
    case 'params':
      f.paramsName = null;
      return;
    default:
      return;
  }
}

function batchMethod(f: Findings, method: string | null): void {
  if (f.memberSlot !== null) {
    if (method !== null) {
      f.methods[f.memberSlot] = method;
    } else {
      f.methods.splice(f.memberSlot, 1);
      f.memberSlot = null;
    }
  } else if (method !== null && f.methods.length < MAX_BATCH_METHODS) {
    f.memberSlot = f.methods.push(method) - 1;
  }
}

function capOrNull(s: string | null): string | null {
  return s === null ? null : capString(s);
}

function skipWhitespace(text: string, i: number): number {
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

/** Index just past the closing quote of the string opening at `start`, or -1 if it is cut. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) return -1;
    // The quote is escaped when an odd number of backslashes precede it. Each backslash is
    // counted once: the run stops at the previous quote at the latest.
    let k = q - 1;
    while (k > start && text.charCodeAt(k) === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    from = q + 1;
  }
}

function decodeString(text: string, start: number, end: number): string | null {
  try {
    const value: unknown = JSON.parse(text.slice(start, end));
    return typeof value === 'string' ? value : null;
  } catch {
    return null;
  }
}

function matchAt(re: RegExp, text: string, at: number): string | null {
  re.lastIndex = at;
  const m = re.exec(text);
  return m === null ? null : m[0];
}
