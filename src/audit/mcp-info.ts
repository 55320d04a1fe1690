/**
 * The result type of the MCP request inspector and the value rules shared by its two parsers
 * (whole-body `JSON.parse` and the tolerant prefix scanner), so both report the same shapes.
 */

/** Body bytes an inspector keeps by default. */
export const DEFAULT_INSPECT_LIMIT_BYTES = 64 * 1024;
/** Longest method / tool name / string id kept; longer values are cut (they are attacker-chosen). */
export const MAX_INSPECTED_STRING_CHARS = 256;
/** Batch member methods listed in `methods`. */
export const MAX_BATCH_METHODS = 32;

/**
 * Shape of a JSON-RPC body: a request (has `method` and `id`), a notification (`method`, no
 * `id`), a response (`result` or `error`), a batch (a non-empty array), `empty` (no bytes or only
 * whitespace), or `invalid` (not JSON, not JSON-RPC 2.0, an empty array, a scalar).
 */
export type McpMessageKind = 'request' | 'notification' | 'response' | 'batch' | 'invalid' | 'empty';

/** What an audit record needs to know about an MCP request body. */
export interface McpRequestInfo {
  kind: McpMessageKind;
  /** `method`, or `'batch'` for a batch, else null. Cut to 256 characters. */
  mcpMethod: string | null;
  /** JSON-RPC `id` when it is a string or a finite number, else null. */
  jsonrpcId: string | number | null;
  /** `params.name` when `method` is `tools/call`, else null. */
  tool: string | null;
  /** For a batch: the `method` of each member that has one, in order, at most 32; else null. */
  methods: readonly string[] | null;
  /**
   * True when the body was larger than the limit: the fields then come from a tolerant scan of
   * the kept prefix and may be missing (a key after the cut is not seen). A truncated object with
   * a `method` but no `id` seen is reported as a `request`, since the id may lie beyond the cut
   * and notifications that large do not occur in MCP.
   */
  truncated: boolean;
  /** Body bytes seen in total (not only the kept prefix). */
  bytes: number;
}

/** The parsed part of `McpRequestInfo` (without `truncated` and `bytes`). */
export type McpMessageShape = Omit<McpRequestInfo, 'truncated' | 'bytes'>;

/** Cuts an attacker-chosen string to the audit limit. */
export function capString(s: string): string {
  return s.length > MAX_INSPECTED_STRING_CHARS ? s.slice(0, MAX_INSPECTED_STRING_CHARS) : s;
}

/** A JSON-RPC id as recorded: strings (cut) and finite numbers; anything else is null. */
export function idValue(id: unknown): string | number | null {
  if (typeof id === 'string') return capString(id);
  if (typeof id === 'number' && Number.isFinite(id)) return id;
  return null;
}
