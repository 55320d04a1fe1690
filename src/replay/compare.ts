import { diffJson, type PatchOp } from './diff';
import { isRequest, isResponse, type RpcMessage } from './jsonrpc';

/** `breaking`: success → error, a tool/prompt/resource removed, a changed input schema, a different call result. */
export type Severity = 'breaking' | 'warning' | 'info';

/** One difference between the recorded and the live answer to one replayed request. */
export interface Difference {
  severity: Severity;
  /** Recorded exchange id and sequence number. */
  exchange: string;
  seq: number;
  /** `tools/call add`, `GET`, … */
  call: string;
  message: string;
  /** RFC 6902 operations from the recorded to the live message (JSON Pointers into the message). */
  ops: PatchOp[];
}

/** What one replayed exchange produced on each side. */
export interface Observed {
  status: number;
  messages: RpcMessage[];
}

const LISTS: Record<string, { field: string; key: string; what: string }> = {
  'tools/list': { field: 'tools', key: 'name', what: 'tool' },
  'prompts/list': { field: 'prompts', key: 'name', what: 'prompt' },
  'resources/list': { field: 'resources', key: 'uri', what: 'resource' },
  'resources/templates/list': { field: 'resourceTemplates', key: 'uriTemplate', what: 'resource template' },
};

type Emit = (severity: Severity, message: string, ops: PatchOp[]) => void;

function compareList(method: string, rec: unknown, live: unknown, ignore: readonly string[], emit: Emit): void {
  const spec = LISTS[method]!;
  const items = (v: unknown): Array<Record<string, unknown>> =>
    ((v as Record<string, unknown> | null)?.[spec.field] as Array<Record<string, unknown>> | undefined) ?? [];
  const liveItems = items(live);
  items(rec).forEach((r, i) => {
    const name = String(r[spec.key]);
    const j = liveItems.findIndex((l) => l[spec.key] === r[spec.key]);
    const path = `/result/${spec.field}/${i}`;
    if (j < 0) {
      emit('breaking', `${spec.what} ${name} removed`, [{ op: 'remove', path, was: r }]);
      return;
    }
    const l = liveItems[j]!;
    const schemaOps = diffJson(r.inputSchema, l.inputSchema, { ignore }, `${path}/inputSchema`);
    if (schemaOps.length > 0) emit('breaking', `${spec.what} ${name}: input schema changed`, schemaOps);
    const { inputSchema: _a, ...rRest } = r;
    const { inputSchema: _b, ...lRest } = l;
    const ops = diffJson(rRest, lRest, { ignore }, path);
    if (ops.length > 0) emit('warning', `${spec.what} ${name} changed`, ops);
  });
  for (const l of liveItems) {
    if (!items(rec).some((r) => r[spec.key] === l[spec.key])) {
      emit('info', `${spec.what} ${String(l[spec.key])} added`, [{ op: 'add', path: `/result/${spec.field}/-`, value: l }]);
    }
  }
}

function compareResponse(method: string, rec: RpcMessage, live: RpcMessage, ignore: readonly string[], emit: Emit): void {
  if ('result' in rec && 'error' in live) {
    emit('breaking', 'success → error', diffJson({ result: rec.result }, { error: live.error }, { ignore }));
    return;
  }
  if ('error' in rec && 'error' in live) {
    const ops = diffJson(rec.error, live.error, { ignore }, '/error');
    if (ops.length > 0) emit('warning', 'error changed', ops);
    return;
  }
  if ('error' in rec) {
    emit('info', 'error → success', diffJson({ error: rec.error }, { result: live.result }, { ignore }));
    return;
  }
  if (LISTS[method] !== undefined) {
    compareList(method, rec.result, live.result, ignore, emit);
    return;
  }
  const ops = diffJson(rec.result, live.result, { ignore }, '/result');
  if (ops.length === 0) return;
  const isError = (r: unknown): boolean => (r as { isError?: unknown } | null)?.isError === true;
  if (!isError(rec.result) && isError(live.result)) {
    // A tool execution error is a result with isError: true (MCP), still a success turned error.
    emit('breaking', 'success → error', ops);
    return;
  }
  if (method === 'initialize') {
    const removed = ops.some((o) => o.op === 'remove' && o.path.startsWith('/result/capabilities'));
    emit(removed ? 'breaking' : 'warning', removed ? 'server capability removed' : 'initialize result changed', ops);
    return;
  }
  emit('breaking', 'result changed', ops);
}

/**
 * Compares the recorded and the live answer to one request: HTTP status, each JSON-RPC response
 * (ids never compared), and the notifications/server requests on the stream, in order.
 */
export function compareExchange(
  requestMethods: string[],
  rec: Observed,
  live: Observed,
  ignore: readonly string[],
  emit: Emit,
): void {
  const ok = (s: number): boolean => s >= 200 && s < 300;
  if (rec.status !== live.status) {
    emit(ok(rec.status) && !ok(live.status) ? 'breaking' : 'warning', `HTTP status ${rec.status} → ${live.status}`, [
      { op: 'replace', path: '', value: live.status, was: rec.status },
    ]);
  }
  const recRes = rec.messages.filter(isResponse);
  const liveRes = live.messages.filter(isResponse);
  recRes.forEach((r, i) => {
    const l = liveRes[i];
    const method = requestMethods[i] ?? '';
    if (l === undefined) emit('breaking', 'response missing', [{ op: 'remove', path: '', was: r }]);
    else compareResponse(method, r, l, ignore, emit);
  });
  const others = (ms: RpcMessage[]): RpcMessage[] => ms.filter((m) => !isResponse(m));
  const ro = others(rec.messages);
  const lo = others(live.messages);
  const names = (ms: RpcMessage[]): string => ms.map((m) => m.method).join(', ');
  if (names(ro) !== names(lo)) {
    emit('warning', `stream events differ: [${names(ro)}] → [${names(lo)}]`, diffJson(ro.map((m) => m.method), lo.map((m) => m.method)));
    return;
  }
  ro.forEach((r, i) => {
    const l = lo[i]!;
    const volatile = ['/params/progressToken', '/params/requestId', ...ignore];
    const ops = diffJson(r.params, l.params, { ignore: volatile }, '/params');
    if (ops.length > 0) emit('warning', `${isRequest(r) ? 'server request' : 'notification'} ${String(r.method)} changed`, ops);
  });
}
