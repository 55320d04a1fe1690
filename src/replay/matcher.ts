import { canonicalize, matchParams } from './canonical';
import { diffJson, type PatchOp } from './diff';
import { parseRpc, isResponse, type RpcMessage } from './jsonrpc';
import type { RecordedExchange, Recording } from './reader';

/** The part of a request that matching looks at: never the JSON-RPC id of a client request. */
export function matchShape(httpMethod: string, body: Buffer, ignore: readonly string[]): unknown {
  const rpc = parseRpc(body);
  if (rpc === undefined) return { http: httpMethod, body: body.length === 0 ? null : body.toString('utf8') };
  const shape = (m: RpcMessage): unknown =>
    isResponse(m)
      ? // A client's answer to a server request: the id is the server's (kept in replay), so it matches on it.
        { answer: m.id, ...('error' in m ? { error: m.error } : { result: m.result }) }
      : { method: m.method, params: matchParams(m.params, ignore), notification: m.id === undefined };
  return { http: httpMethod, batch: rpc.batch, messages: rpc.messages.map(shape) };
}

interface Candidate {
  ex: RecordedExchange;
  shape: unknown;
  key: string;
  methods: string;
  used: boolean;
}

/** A match, or the closest recorded candidate with the JSON Patch from it to the live request. */
export type MatchResult =
  | { ok: true; exchange: RecordedExchange }
  | { ok: false; closest?: { exchange: RecordedExchange; diff: PatchOp[] } };

function methodsOf(shape: unknown): string {
  const s = shape as { http: string; messages?: Array<{ method?: string }> };
  return `${s.http} ${(s.messages ?? []).map((m) => m.method ?? 'answer').join(',')}`;
}

/**
 * Finds the recorded exchange for a live request: same server, HTTP method, JSON-RPC method(s) and
 * RFC 8785-canonical params (volatile `_meta` and ignore paths removed; a redaction placeholder in the
 * recording matches any live string), in the recorded session the live one maps to. Each recorded
 * exchange answers once; identical requests take them in recorded order.
 */
export class Matcher {
  private readonly byServer = new Map<string, Candidate[]>();

  constructor(
    recording: Recording,
    private readonly ignore: readonly string[] = [],
  ) {
    for (const ex of recording.exchanges) {
      const shape = matchShape(ex.request.method, ex.request.body, ignore);
      const list = this.byServer.get(ex.server) ?? [];
      list.push({ ex, shape, key: canonicalize(shape), methods: methodsOf(shape), used: false });
      this.byServer.set(ex.server, list);
    }
  }

  /** Recorded exchanges not answered yet (for the end-of-run summary). */
  unused(server: string): RecordedExchange[] {
    return (this.byServer.get(server) ?? []).filter((c) => !c.used).map((c) => c.ex);
  }

  /** Marks a recorded exchange as answered (a client answer that differed, answered anyway). */
  consume(ex: RecordedExchange): void {
    for (const c of this.byServer.get(ex.server) ?? []) if (c.ex === ex) c.used = true;
  }

  /** `session`: the recorded session the live request's session maps to (undefined: none known). */
  match(server: string, httpMethod: string, body: Buffer, session: string | undefined): MatchResult {
    const list = this.byServer.get(server) ?? [];
    const shape = matchShape(httpMethod, body, this.ignore);
    const key = canonicalize(shape);
    const methods = methodsOf(shape);
    const inSession = (c: Candidate): boolean => session === undefined || c.ex.session === null || c.ex.session === session;
    const same = (c: Candidate): boolean =>
      c.key === key || (c.methods === methods && diffJson(c.shape, shape, { textAsJson: false, ignoreTimestamps: false }).length === 0);
    const hit = list.find((c) => !c.used && inSession(c) && same(c)) ?? (session === undefined ? undefined : list.find((c) => !c.used && same(c)));
    if (hit !== undefined) {
      hit.used = true;
      return { ok: true, exchange: hit.ex };
    }
    let best: { c: Candidate; score: number; diff: PatchOp[] } | undefined;
    for (const c of list) {
      const diff = diffJson(c.shape, shape, { textAsJson: false, ignoreTimestamps: false });
      const score = (c.methods === methods ? 0 : 1000) + (c.used ? 100 : 0) + diff.length;
      if (best === undefined || score < best.score) best = { c, score, diff };
    }
    return best === undefined ? { ok: false } : { ok: false, closest: { exchange: best.c.ex, diff: best.diff } };
  }
}
