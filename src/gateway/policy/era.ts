/**
 * Protocol-era checks. From protocol version 2026-07-28 on, clients mirror the JSON-RPC `method`
 * into `Mcp-Method` and `params.name` / `params.uri` into `Mcp-Name`, so that intermediaries can
 * route on headers. A gateway that enforces policy on the body must make sure the headers say the
 * same thing, or a client could show a harmless header to one hop and a forbidden body to the next.
 */

/** JSON-RPC error code `HeaderMismatch` (MCP 2026-07-28), sent with HTTP 400. */
export const HEADER_MISMATCH_CODE = -32020;

/** The first protocol version whose requests carry `Mcp-Method` / `Mcp-Name`. */
export const HEADER_ERA_VERSION = '2026-07-28';

/** Methods whose requests must carry `Mcp-Name`, and the `params` field it mirrors. */
const NAME_FIELD: Readonly<Record<string, 'name' | 'uri'>> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };

/** Whether `MCP-Protocol-Version` names a version that mirrors body fields into headers. */
export function isHeaderEra(protocolVersion: string | undefined): boolean {
  if (protocolVersion === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(protocolVersion)) return false;
  return protocolVersion >= HEADER_ERA_VERSION; // ISO dates compare as strings
}

/**
 * A header value as the client meant it: `=?base64?…?=` is Base64 of UTF-8 (the specification's
 * encoding for values that are not plain visible ASCII); null when that encoding is malformed.
 */
export function decodeMirroredValue(value: string): string | null {
  const m = /^=\?base64\?(.*)\?=$/.exec(value);
  if (!m) return value;
  const b64 = m[1]!;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return null;
  const bytes = Buffer.from(b64, 'base64');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The mirrored request headers, raw (undefined when absent). */
export interface MirroredHeaders {
  protocolVersion: string | undefined;
  method: string | undefined;
  name: string | undefined;
}

/**
 * Compares the mirrored headers of a header-era request with its parsed body. Returns the problem
 * (for the error message) or null when they agree. Missing required headers are problems too, as
 * the specification requires.
 */
export function headerMismatch(headers: MirroredHeaders, body: unknown): string | null {
  if (!isObject(body)) return 'a request of protocol version 2026-07-28 or later must be a single JSON-RPC message';
  const method = typeof body.method === 'string' ? body.method : null;
  if (method === null) return null; // a response from the client: no mirrored headers
  if (headers.method === undefined) return 'Mcp-Method header is missing';
  const hMethod = decodeMirroredValue(headers.method);
  if (hMethod !== method) return `Mcp-Method header value '${clip(headers.method)}' does not match body value '${clip(method)}'`;
  const params = isObject(body.params) ? body.params : {};
  const meta = isObject(params._meta) ? params._meta : {};
  const bodyVersion = meta['io.modelcontextprotocol/protocolVersion'];
  if (typeof bodyVersion === 'string' && headers.protocolVersion !== undefined && bodyVersion !== headers.protocolVersion) {
    return `MCP-Protocol-Version header value '${clip(headers.protocolVersion)}' does not match body value '${clip(bodyVersion)}'`;
  }
  const field = Object.hasOwn(NAME_FIELD, method) ? NAME_FIELD[method] : undefined;
  if (field === undefined) {
    return null;
  }
  const bodyName = typeof params[field] === 'string' ? params[field] : null;
  if (headers.name === undefined) return bodyName === null ? null : 'Mcp-Name header is missing';
  const hName = decodeMirroredValue(headers.name);
  if (hName === null) return 'Mcp-Name header has a malformed Base64 value';
  if (hName !== bodyName) return `Mcp-Name header value '${clip(hName)}' does not match body value '${clip(bodyName ?? '')}'`;
  return null;
}

function clip(s: string): string {
  return s.length > 128 ? `${s.slice(0, 128)}…` : s;
}
