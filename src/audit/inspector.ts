import { Transform, type TransformCallback } from 'node:stream';
import { scanJsonRpcPrefix } from './prefix-scanner';
import {
  DEFAULT_INSPECT_LIMIT_BYTES,
  MAX_BATCH_METHODS,
  capString,
  idValue,
  type McpMessageKind,
  type McpRequestInfo,
  type McpMessageShape,
} from './mcp-info';

/**
 * Looks at an MCP request body as it streams past, keeping at most `limitBytes` of it, and at
 * `finish()` extracts the method, JSON-RPC id and tool name for the audit record. It never holds
 * more than `limitBytes` and parses the body at most once.
 *
 * Feed it from `inspectorTap`, or call `push` yourself with every chunk in order.
 */
export class McpRequestInspector {
  /** Body bytes kept for parsing. */
  readonly limitBytes: number;
  #kept: Buffer[] = [];
  #keptBytes = 0;
  #bytes = 0;
  #result: Readonly<McpRequestInfo> | null = null;

  /** @throws RangeError when `limitBytes` is not a non-negative safe integer. */
  constructor(limitBytes: number = DEFAULT_INSPECT_LIMIT_BYTES) {
    if (!Number.isSafeInteger(limitBytes) || limitBytes < 0) {
      throw new RangeError(`limitBytes must be a non-negative integer, got ${limitBytes}`);
    }
    this.limitBytes = limitBytes;
  }

  /** Body bytes seen so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether `finish()` has been called. */
  get finished(): boolean {
    return this.#result !== null;
  }

  /**
   * Feeds the next body chunk. Copies only the part that still fits under the limit (a chunk may
   * be a view of a buffer its producer reuses). Chunks pushed after `finish()` are ignored.
   */
  push(chunk: Uint8Array): void {
    if (this.#result !== null) return;
    this.#bytes += chunk.byteLength;
    const room = this.limitBytes - this.#keptBytes;
    if (room <= 0 || chunk.byteLength === 0) return;
    const part = chunk.byteLength <= room ? chunk : chunk.subarray(0, room);
    this.#kept.push(Buffer.from(part));
    this.#keptBytes += part.byteLength;
  }

  /**
   * Extracts the request info from what was pushed, releasing the kept bytes. Idempotent: later
   * calls return the same (frozen) object. Never throws, whatever the body.
   */
  finish(): Readonly<McpRequestInfo> {
    if (this.#result !== null) return this.#result;
    const truncated = this.#bytes > this.limitBytes;
    let text = Buffer.concat(this.#kept, this.#keptBytes).toString('utf8');
    this.#kept = [];
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const shape = truncated ? scanJsonRpcPrefix(text) : parseWhole(text);
    if (shape.methods !== null) Object.freeze(shape.methods);
    this.#result = Object.freeze({ ...shape, truncated, bytes: this.#bytes });
    return this.#result;
  }
}

const INVALID: McpMessageShape = { kind: 'invalid', mcpMethod: null, jsonrpcId: null, tool: null, methods: null };

function parseWhole(text: string): McpMessageShape {
  if (text.trim() === '') return { ...INVALID, kind: 'empty' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return INVALID;
  }
  return describeMessage(value);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The MCP shape of an already parsed JSON-RPC body (the gateway's one parse of a whole body); the
 * same rules `finish()` applies to a body within the limit.
 */
export function describeMessage(value: unknown): McpMessageShape {
  if (Array.isArray(value)) {
    // JSON-RPC 2.0: an empty batch is an invalid request.
    if (value.length === 0) return INVALID;
    const methods: string[] = [];
    for (const member of value) {
      if (methods.length >= MAX_BATCH_METHODS) break;
      if (isObject(member) && typeof member.method === 'string') methods.push(capString(member.method));
    }
    return { kind: 'batch', mcpMethod: 'batch', jsonrpcId: null, tool: null, methods };
  }
  if (!isObject(value)) return INVALID;

  const method = typeof value.method === 'string' ? capString(value.method) : null;
  const jsonrpcId = idValue(value.id);
  const params = value.params;
  const tool =
    method === 'tools/call' && isObject(params) && typeof params.name === 'string' ? capString(params.name) : null;

  const has = (key: string): boolean => Object.hasOwn(value, key);
  const isResponse = !has('method') && (has('result') || has('error'));
  let kind: McpMessageKind;
  if (method !== null) kind = has('id') ? 'request' : 'notification';
  else kind = isResponse ? 'response' : 'invalid';
  // Not JSON-RPC 2.0, but the fields are still worth recording: the audit says what was tried.
  if (value.jsonrpc !== '2.0') kind = 'invalid';
  return { kind, mcpMethod: method, jsonrpcId, tool, methods: null };
}

/**
 * A pass-through stream that hands every chunk downstream unchanged (the same Buffer, so the
 * output is byte-identical) and feeds it to `inspector`. Both high-water marks are 0, so the tap
 * holds at most the one chunk in transit and a slow consumer slows the producer.
 *
 * The tap never calls `finish()`; call it once the body has ended (or the request was abandoned).
 */
export function inspectorTap(inspector: McpRequestInspector): Transform {
  return new Transform({
    writableHighWaterMark: 0,
    readableHighWaterMark: 0,
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      inspector.push(chunk);
      callback(null, chunk);
    },
  });
}
