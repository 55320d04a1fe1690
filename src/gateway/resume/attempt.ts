/**
 * One resumption attempt, as pure decisions: whether a failure may be resumed, whether the request
 * may still go where it went (the same client request, re-checked against the current
 * configuration), the head of the resumed `GET`, and what its response head means.
 */
import { getHeader, type HeaderList } from '../../http';
import { ConnectionClosedError, StreamResetError } from '../../mux';
import { ErrorCode } from '../../protocol';
import type { ClientIdentity } from '../auth';
import type { ForwardState } from '../request/context';
import type { SessionBinding } from '../session-binding';

/** Headers that describe the original request's body or JSON-RPC call, which a resumed GET has not. */
const BODY_AND_CALL_HEADERS = new Set(['content-length', 'content-type', 'content-encoding', 'transfer-encoding', 'expect', 'last-event-id', 'mcp-method', 'mcp-name']);

/** Reset codes after which the same events may still be fetched from the upstream. */
const RESUMABLE_RESETS: ReadonlySet<number> = new Set<number>([ErrorCode.SHUTDOWN, ErrorCode.UPSTREAM_RESET, ErrorCode.REFUSED_STREAM]);

/**
 * Whether a tunnel stream that failed with `err` may be resumed: the connection was lost or closed,
 * the proxy is shutting down, or the upstream's connection broke. Not a protocol error, a bad head,
 * a cancel (someone wanted the stream gone) or a policy refusal.
 */
export function isResumableFailure(err: unknown): boolean {
  if (err instanceof ConnectionClosedError) return true;
  return err instanceof StreamResetError && RESUMABLE_RESETS.has(err.wireCode);
}

/** What the original admission fixed and a resumption must not change. */
export interface ResumeIdentity {
  server: string;
  tunnel: string;
  /** The server's configured URL when the request was admitted. */
  serverUrl: string;
  client: ClientIdentity;
  owner: string;
  sessionId: string | null;
}

/**
 * Why the request may not be resumed now, or null when it may: the server must still be configured
 * on the same tunnel and URL, the client still granted it, and the session (if any) still its own.
 * Rate and concurrency limits are not counted again: it is the same client request.
 */
export function resumeRefusal(state: ForwardState, sessions: SessionBinding, id: ResumeIdentity): string | null {
  const server = state.servers.get(id.server);
  if (!server || server.tunnel !== id.tunnel || server.url !== id.serverUrl) return `server "${id.server}" was removed or re-routed by a configuration reload`;
  const refused = state.clients.authorize(id.client, id.server);
  if (refused) return `client may no longer use server "${id.server}": ${refused.message}`;
  if (id.sessionId) {
    const owner = sessions.ownerOf(id.server, id.sessionId);
    if (owner !== null && owner !== id.owner) return 'the session belongs to another identity';
  }
  return null;
}

/**
 * Head of the resumed request: the original request's forwarded headers (already without the
 * client's credential and hop-by-hop headers), without those about its body or call, plus
 * `Last-Event-ID` and the session (the response's, when the request did not carry one).
 */
export function resumeHeaders(original: HeaderList, lastEventId: string, sessionId: string | null): HeaderList {
  const out: HeaderList = original.filter(([k]) => {
    const name = k.toLowerCase();
    return !BODY_AND_CALL_HEADERS.has(name) && !name.startsWith('mcp-param-');
  });
  if (sessionId !== null && getHeader(out, 'mcp-session-id') === undefined) out.push(['mcp-session-id', sessionId]);
  out.push(['last-event-id', lastEventId]);
  return out;
}

/** What a resumed request's response head means. */
export type ResumeHeadVerdict = 'resumed' | 'retry' | 'give-up';

/** Statuses after which the same resumption may succeed a little later (409: the old stream is still registered upstream). */
const RETRY_STATUSES = new Set([409, 425, 429, 500, 502, 503, 504]);

/** 200 with an event stream continues the client's stream; a transient status is retried; any other ends it. */
export function classifyResumeHead(status: number, headers: HeaderList): ResumeHeadVerdict {
  if (status === 200) return (getHeader(headers, 'content-type') ?? '').toLowerCase().startsWith('text/event-stream') ? 'resumed' : 'give-up';
  return RETRY_STATUSES.has(status) ? 'retry' : 'give-up';
}

/** A JSON-RPC id, as the request carried it. */
export type JsonRpcId = string | number;

/**
 * The id of the single JSON-RPC request in `value`, the body's one parse by the admission (never a
 * second reading of the bytes), or null when there is none to wait for (a notification, a batch, a
 * body that was not JSON).
 */
export function requestIdOf(value: unknown): JsonRpcId | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const { id, method } = value as { id?: unknown; method?: unknown };
  return typeof method === 'string' && (typeof id === 'string' || typeof id === 'number') ? id : null;
}

/**
 * True when these whole event blocks carry the JSON-RPC response (result or error) to `id`. Only
 * read on a resumed answer to a POST: the upstream's replay stream may stay open after the answer
 * (the SDK closes it only when the answer is sent live), so the gateway ends it, as the original
 * stream would have ended.
 */
export function carriesAnswer(blocks: readonly Buffer[], id: JsonRpcId): boolean {
  const text = Buffer.concat(blocks).toString('utf8');
  if (!text.includes('"result"') && !text.includes('"error"')) return false;
  for (const block of text.split(/\r\n\r\n|\n\n|\r\r/)) {
    const data = block
      .split(/\r\n|\n|\r/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) continue;
    try {
      const msg = JSON.parse(data) as { id?: unknown; result?: unknown; error?: unknown };
      if (msg.id === id && (msg.result !== undefined || msg.error !== undefined)) return true;
    } catch {
      // not JSON: not the answer
    }
  }
  return false;
}
