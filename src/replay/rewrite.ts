import { isResponse, parseRpc, type RpcMessage } from './jsonrpc';

/**
 * Maps recorded values to live ones for one replayed exchange: the client's JSON-RPC ids and
 * progress tokens (recorded request ↔ live request, message by message).
 */
export class Rewriter {
  private readonly ids = new Map<string, RpcMessage['id']>();
  private readonly tokens = new Map<string, unknown>();

  constructor(recordedBody: Buffer, liveBody: Buffer) {
    const rec = parseRpc(recordedBody)?.messages ?? [];
    const live = parseRpc(liveBody)?.messages ?? [];
    rec.forEach((r, i) => {
      const l = live[i];
      if (l === undefined) return;
      if (r.id !== undefined && r.method !== undefined) this.ids.set(JSON.stringify(r.id), l.id);
      const rt = (r.params as { _meta?: { progressToken?: unknown } } | undefined)?._meta?.progressToken;
      const lt = (l.params as { _meta?: { progressToken?: unknown } } | undefined)?._meta?.progressToken;
      if (rt !== undefined && lt !== undefined) this.tokens.set(JSON.stringify(rt), lt);
    });
  }

  /** The text with recorded ids/tokens replaced by live ones; the same string when nothing changes. */
  text(text: string): string {
    const rpc = parseRpc(text);
    if (rpc === undefined) return text;
    let changed = false;
    for (const m of rpc.messages) changed = this.message(m) || changed;
    if (!changed) return text;
    return JSON.stringify(rpc.batch ? rpc.messages : rpc.messages[0]);
  }

  private message(m: RpcMessage): boolean {
    if (isResponse(m)) {
      const k = JSON.stringify(m.id);
      if (this.ids.has(k)) {
        m.id = this.ids.get(k);
        return true;
      }
      return false;
    }
    if (m.method === 'notifications/progress' || m.method === 'notifications/cancelled') {
      const p = m.params as { progressToken?: unknown; requestId?: unknown } | undefined;
      if (p?.progressToken !== undefined && this.tokens.has(JSON.stringify(p.progressToken))) {
        p.progressToken = this.tokens.get(JSON.stringify(p.progressToken));
        return true;
      }
      if (p?.requestId !== undefined && this.ids.has(JSON.stringify(p.requestId))) {
        p.requestId = this.ids.get(JSON.stringify(p.requestId));
        return true;
      }
    }
    return false;
  }
}

/** Serialises one SSE event (the recorded fields; `id` already rewritten by the caller). */
export function sseText(ev: { id?: string; event?: string; data?: string; retry?: number; comment?: string }): string {
  if (ev.comment !== undefined) return `: ${ev.comment}\n\n`;
  let out = '';
  if (ev.retry !== undefined && ev.data === undefined) return `retry: ${ev.retry}\n\n`;
  if (ev.id !== undefined) out += `id: ${ev.id}\n`;
  if (ev.event !== undefined) out += `event: ${ev.event}\n`;
  if (ev.retry !== undefined) out += `retry: ${ev.retry}\n`;
  for (const line of (ev.data ?? '').split('\n')) out += `data: ${line}\n`;
  return out + '\n';
}
