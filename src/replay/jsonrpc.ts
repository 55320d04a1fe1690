/** A JSON-RPC message as read from a body or an SSE `data` (only the fields replay looks at). */
export interface RpcMessage {
  jsonrpc?: unknown;
  id?: string | number | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: unknown;
}

/** The JSON-RPC messages of a body: `undefined` when it is empty or not JSON-RPC. */
export function parseRpc(body: Buffer | string): { batch: boolean; messages: RpcMessage[] } | undefined {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const list = Array.isArray(v) ? v : [v];
  if (!list.every((m) => typeof m === 'object' && m !== null && !Array.isArray(m))) return undefined;
  return { batch: Array.isArray(v), messages: list as RpcMessage[] };
}

export function isRequest(m: RpcMessage): boolean {
  return typeof m.method === 'string' && m.id !== undefined;
}

export function isNotification(m: RpcMessage): boolean {
  return typeof m.method === 'string' && m.id === undefined;
}

export function isResponse(m: RpcMessage): boolean {
  return m.method === undefined && m.id !== undefined && ('result' in m || 'error' in m);
}

/** What names a call in reports and in 2026-era headers: `params.name` (tools, prompts) or `params.uri`. */
export function callName(m: RpcMessage): string | undefined {
  const p = m.params as { name?: unknown; uri?: unknown } | undefined;
  if (typeof p?.name === 'string') return p.name;
  if (typeof p?.uri === 'string') return p.uri;
  return undefined;
}

/** `tools/call echo`, `initialize`, … for reports. */
export function describeCall(msgs: RpcMessage[] | undefined, httpMethod: string): string {
  if (msgs === undefined || msgs.length === 0) return httpMethod;
  return msgs
    .map((m) => (m.method === undefined ? `response ${String(m.id)}` : [m.method, callName(m)].filter(Boolean).join(' ')))
    .join(', ');
}
