import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ReplayError } from './errors';
import {
  decodeBody,
  FORMAT_NAME,
  type FooterRecord,
  type HeaderPairs,
  type HeaderRecord,
  type RecordingLine,
  type SseRecord,
  type WireRecord,
} from './format';

/** One recorded SSE event (or comment / retry line) with its sequence number and time offset. */
export type RecordedSse = Omit<SseRecord, 'type' | 'x' | 'server' | 'session' | 'dir'>;

/** One HTTP exchange rebuilt from its wire events. */
export interface RecordedExchange {
  id: string;
  server: string;
  session: string | null;
  /** `seq`/`t` of the request head. */
  seq: number;
  t: number;
  request: { method: string; path: string; headers: HeaderPairs; body: Buffer; redacted: string[] };
  response?: { status: number; headers: HeaderPairs; t: number; seq: number; body: Buffer; sse: RecordedSse[] | undefined };
  end: { type: 'end' | 'reset' | 'open'; t: number; reason?: string };
}

/** A loaded recording: header of the first part, exchanges by recorded order, footers, problems found. */
export interface Recording {
  header: HeaderRecord;
  exchanges: RecordedExchange[];
  footers: FooterRecord[];
  dropped: number;
  /** The last line of a part was incomplete (the recorder was killed mid-line); it was ignored. */
  truncated: boolean;
  servers: string[];
}

/** Parses the text of one part; a final incomplete line is ignored and reported. */
export function parseLines<T = RecordingLine>(text: string, name: string): { lines: T[]; truncated: boolean } {
  const raw = text.split('\n');
  const last = raw.pop() ?? '';
  const lines: T[] = [];
  raw.forEach((l, i) => {
    if (l.trim() === '') return;
    try {
      lines.push(JSON.parse(l) as T);
    } catch (err) {
      throw new ReplayError('TUNNEL_REPLAY_BAD_RECORDING', `${name}:${i + 1}: not a JSON line`, { cause: err });
    }
  });
  // A killed writer can leave a partial last line (no newline); everything before it is intact.
  return { lines, truncated: last.trim() !== '' };
}

function exchangeOf(map: Map<string, RecordedExchange>, rec: WireRecord): RecordedExchange | undefined {
  let ex = map.get(rec.x);
  if (ex === undefined && rec.type === 'request-head') {
    ex = {
      id: rec.x,
      server: rec.server,
      session: rec.session,
      seq: rec.seq,
      t: rec.t,
      request: { method: rec.method, path: rec.path, headers: rec.headers, body: Buffer.alloc(0), redacted: rec.redacted ?? [] },
      end: { type: 'open', t: rec.t },
    };
    map.set(rec.x, ex);
  }
  return ex;
}

function apply(ex: RecordedExchange, rec: WireRecord): void {
  if (ex.session === null && rec.session !== null) ex.session = rec.session;
  switch (rec.type) {
    case 'request-head':
      return;
    case 'request-body':
      ex.request.body = Buffer.concat([ex.request.body, decodeBody(rec.body)]);
      ex.request.redacted.push(...(rec.redacted ?? []));
      return;
    case 'response-head': {
      const sse = rec.headers.some(([n, v]) => n.toLowerCase() === 'content-type' && v.toLowerCase().startsWith('text/event-stream'));
      ex.response = { status: rec.status, headers: rec.headers, t: rec.t, seq: rec.seq, body: Buffer.alloc(0), sse: sse ? [] : undefined };
      return;
    }
    case 'response-body':
      if (ex.response !== undefined) ex.response.body = Buffer.concat([ex.response.body, decodeBody(rec.body)]);
      return;
    case 'sse': {
      const { type: _t, x: _x, server: _s, session: _ss, dir: _d, ...ev } = rec;
      ex.response?.sse?.push(ev);
      return;
    }
    case 'end':
    case 'reset':
      ex.end = { type: rec.type, t: rec.t, ...(rec.reason === undefined ? {} : { reason: rec.reason }) };
      return;
  }
}

/**
 * Reads a recording and every part its footers name. Rejects with `TUNNEL_REPLAY_IO` (unreadable)
 * or `TUNNEL_REPLAY_BAD_RECORDING` (not a recording, or a line that is not JSON).
 */
export async function loadRecording(file: string): Promise<Recording> {
  const lines: RecordingLine[] = [];
  let truncated = false;
  let path: string | undefined = file;
  for (let parts = 0; path !== undefined && parts < 10_000; parts++) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (parts > 0) break; // a next part that was never written: the recorder died while rotating
      throw new ReplayError('TUNNEL_REPLAY_IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    const part: { lines: RecordingLine[]; truncated: boolean } = parseLines(text, path);
    truncated ||= part.truncated;
    lines.push(...part.lines);
    const footer = part.lines.filter((l): l is FooterRecord => l.type === 'footer').pop();
    path = footer?.next === undefined ? undefined : join(dirname(path), footer.next);
  }
  return fromLines(lines, truncated, file);
}

/** Builds the exchange model from parsed lines (in file order). */
export function fromLines(lines: RecordingLine[], truncated: boolean, name = 'recording'): Recording {
  const header = lines[0];
  if (header?.type !== 'header' || header.format !== FORMAT_NAME) {
    throw new ReplayError('TUNNEL_REPLAY_BAD_RECORDING', `${name}: no ${FORMAT_NAME} header line`);
  }
  if (header.version !== 1) {
    throw new ReplayError('TUNNEL_REPLAY_BAD_RECORDING', `${name}: format version ${String(header.version)} is not supported`);
  }
  const map = new Map<string, RecordedExchange>();
  const footers: FooterRecord[] = [];
  let dropped = 0;
  for (const l of lines) {
    if (l.type === 'header') continue;
    if (l.type === 'footer') footers.push(l);
    else if (l.type === 'drop') dropped += l.events;
    else {
      const ex = exchangeOf(map, l);
      if (ex !== undefined) apply(ex, l);
    }
  }
  const exchanges = [...map.values()].sort((a, b) => a.seq - b.seq);
  for (const ex of exchanges) ex.session ??= legacySession(ex);
  return { header, exchanges, footers, dropped, truncated, servers: [...new Set(exchanges.map((e) => e.server))] };
}

/**
 * The session of a legacy HTTP+SSE exchange (which has no `Mcp-Session-Id`): the `sessionId` query
 * parameter of a POST to the message endpoint, or of the URL the GET stream announced in its first
 * `event: endpoint`. `null` for anything else.
 */
export function legacySession(ex: RecordedExchange): string | null {
  const announced = ex.response?.sse?.find((e) => e.data !== undefined);
  const url = announced?.event === 'endpoint' ? announced.data! : ex.request.path;
  try {
    return new URL(url, 'http://recording').searchParams.get('sessionId');
  } catch {
    return null;
  }
}

/** A header's value (first line of that name), case-insensitive. */
export function header(h: HeaderPairs, name: string): string | undefined {
  const n = name.toLowerCase();
  return h.find(([k]) => k.toLowerCase() === n)?.[1];
}
