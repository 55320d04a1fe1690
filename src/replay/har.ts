import { header, type RecordedExchange, type Recording } from './reader';

/** A HAR 1.2 name/value pair. */
interface NameValue {
  name: string;
  value: string;
}

/** The `_eventSource` extension: each SSE event of a response, with its time offset (ms from the request). */
export interface HarEventSourceEvent {
  time: number;
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
  comment?: string;
}

function queryOf(path: string): NameValue[] {
  const q = path.indexOf('?');
  if (q < 0) return [];
  return [...new URLSearchParams(path.slice(q + 1))].map(([name, value]) => ({ name, value }));
}

function entry(ex: RecordedExchange, started: number): Record<string, unknown> {
  const res = ex.response;
  const host = header(ex.request.headers, 'host') ?? 'replay.invalid';
  const reqType = header(ex.request.headers, 'content-type') ?? '';
  const resType = res === undefined ? '' : (header(res.headers, 'content-type') ?? '');
  const wait = res === undefined ? 0 : res.t - ex.t;
  const receive = Math.max(0, ex.end.t - (res?.t ?? ex.t));
  const events: HarEventSourceEvent[] | undefined = res?.sse?.map(({ seq: _s, t, redacted: _r, ...ev }) => ({ time: t - ex.t, ...ev }));
  const text = events === undefined ? (res?.body.toString('utf8') ?? '') : '';
  return {
    startedDateTime: new Date(started + ex.t).toISOString(),
    time: wait + receive,
    request: {
      method: ex.request.method,
      url: `http://${host}${ex.request.path}`,
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: ex.request.headers.map(([name, value]) => ({ name, value })),
      queryString: queryOf(ex.request.path),
      ...(ex.request.body.length > 0 ? { postData: { mimeType: reqType, text: ex.request.body.toString('utf8') } } : {}),
      headersSize: -1,
      bodySize: ex.request.body.length,
    },
    response: {
      status: res?.status ?? 0,
      statusText: '',
      httpVersion: 'HTTP/1.1',
      cookies: [],
      headers: (res?.headers ?? []).map(([name, value]) => ({ name, value })),
      content: { size: res?.body.length ?? 0, mimeType: resType, text },
      redirectURL: '',
      headersSize: -1,
      bodySize: res?.body.length ?? -1,
      ...(ex.end.type === 'reset' ? { _error: ex.end.reason ?? 'reset' } : {}),
    },
    cache: {},
    timings: { send: 0, wait, receive },
    ...(events === undefined ? {} : { _eventSource: events }),
    _server: ex.server,
    _session: ex.session,
    _exchange: ex.id,
  };
}

/** HAR 1.2 (`replay export --har`): one entry per exchange; SSE events under `_eventSource`. */
export function toHar(recording: Recording): Record<string, unknown> {
  const started = Date.parse(recording.header.startedAt);
  return {
    log: {
      version: '1.2',
      creator: { name: 'mcp-tunnel', version: recording.header.recorder.version },
      pages: [],
      entries: recording.exchanges.map((ex) => entry(ex, Number.isNaN(started) ? 0 : started)),
      comment: `mcp-tunnel recording (${recording.header.recorder.side}); SSE events under _eventSource`,
    },
  };
}
