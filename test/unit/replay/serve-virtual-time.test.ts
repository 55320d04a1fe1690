/**
 * `replay serve` pacing in virtual time (docs/replay.md "Timing"): the replay server takes its
 * scheduler from `ServeOptions.scheduler`, so the "recorded" and "scaled" modes can be checked
 * exactly: every delay it waits is asserted in virtual ms, and the run takes milliseconds of real
 * time. A real HTTP client on loopback; the virtual clock moves only when the test advances it,
 * and only once the client has seen what the server wrote before it started waiting.
 */
import { performance } from 'node:perf_hooks';
import { VirtualTimeScheduler, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import { fromLines } from '../../../src/replay/reader';
import type { RecordingLine } from '../../../src/replay/format';
import { startReplayServer, type ReplayServer, type Timing } from '../../../src/replay';
import { waitFor } from '../../helpers/wait-for';

const HEADER = {
  type: 'header',
  format: 'mcp-tunnel-recording',
  version: 1,
  recorder: { name: 'mcp-tunnel', version: '0.0.0', side: 'test' },
  startedAt: '2026-12-06T00:00:00.000Z',
  part: 1,
  redaction: { method: 'hmac-sha256', keyId: 'k', headers: [], queryParams: [], pointers: [], patterns: [] },
};

const CALL = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"slow","arguments":{}}}';
const LIST = '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}';
const PROGRESS = '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}';
const RESULT = '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"done"}]}}';
const SAMPLE = '{"jsonrpc":"2.0","id":0,"method":"sampling/createMessage","params":{"messages":[],"maxTokens":1}}';
const TOOLS = '{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}';

/**
 * A tools/call answered on SSE (head 2 s after the request, progress at once, the result after a
 * 5 s gap) and a tools/list answered with JSON (head after 2 s, body 0.5 s later).
 */
function recording(sampling = false): ReturnType<typeof fromLines> {
  let seq = 0;
  const w = (x: string, t: number, rest: Record<string, unknown>): Record<string, unknown> => ({ seq: seq++, t, x, server: 'notes', session: null, ...rest });
  const c2s = { dir: 'c2s' };
  const s2c = { dir: 's2c' };
  const lines = [
    HEADER,
    w('a', 1000, { type: 'request-head', ...c2s, method: 'POST', path: '/mcp/notes', headers: [['content-type', 'application/json']] }),
    w('a', 1000, { type: 'request-body', ...c2s, body: { text: CALL }, whole: true }),
    w('a', 3000, { type: 'response-head', ...s2c, status: 200, headers: [['content-type', 'text/event-stream']] }),
    w('a', 3000, { type: 'sse', ...s2c, event: 'message', data: sampling ? SAMPLE : PROGRESS }),
    w('a', 8000, { type: 'sse', ...s2c, event: 'message', data: RESULT }),
    w('a', 8000, { type: 'end', ...s2c }),
    w('b', 10_000, { type: 'request-head', ...c2s, method: 'POST', path: '/mcp/notes', headers: [['content-type', 'application/json']] }),
    w('b', 10_000, { type: 'request-body', ...c2s, body: { text: LIST }, whole: true }),
    w('b', 12_000, { type: 'response-head', ...s2c, status: 200, headers: [['content-type', 'application/json']] }),
    w('b', 12_500, { type: 'response-body', ...s2c, body: { text: TOOLS }, whole: true }),
    w('b', 12_500, { type: 'end', ...s2c }),
  ];
  return fromLines(lines as unknown as RecordingLine[], false, 'virtual-time');
}

/** A virtual clock that notes every wait it is asked for and runs it only when the test advances. */
class SteppedClock implements SchedulerLike {
  private readonly vts = new VirtualTimeScheduler();
  /** Every wait asked for: when (virtual ms) and how long. */
  readonly waits: Array<{ at: number; ms: number }> = [];
  /** Waits scheduled and neither run nor cancelled yet. */
  private readonly pending = new Set<object>();

  now(): number {
    return this.vts.now();
  }

  schedule<T>(work: (this: SchedulerAction<T>, state: T) => void, delay = 0, state?: T): Subscription {
    this.waits.push({ at: this.now(), ms: delay });
    const token = {};
    this.pending.add(token);
    const pending = this.pending;
    const sub = this.vts.schedule<T>(function (this: SchedulerAction<T>, s?: T) {
      pending.delete(token);
      work.call(this, s as T);
    }, delay, state);
    sub.add(() => pending.delete(token));
    return sub;
  }

  /** Waits (real time) until `ready()` and a wait is pending, then moves virtual time to its end. */
  async advanceWhen(ready: () => boolean): Promise<void> {
    await waitFor(() => ready() && this.pending.size > 0, { message: 'a pending replay wait' });
    this.vts.flush();
  }
}

interface Seen {
  at: number;
  text: string;
}

/** POSTs `body` and collects the SSE `data` lines (or the whole JSON body) with the virtual time each arrived. */
async function post(url: string, body: string, clock: SteppedClock, seen: Seen[]): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });
  seen.push({ at: clock.now(), text: `head ${res.status}` });
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const event = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = event.split('\n').find((l) => l.startsWith('data: '));
      if (data !== undefined) seen.push({ at: clock.now(), text: data.slice(6) });
    }
  }
  if (buf !== '') seen.push({ at: clock.now(), text: buf });
}

/** Replays both exchanges with `timing`, advancing the clock step by step; returns what the client saw when. */
async function replayed(timing: Timing): Promise<{ seen: Seen[]; waits: SteppedClock['waits']; realMs: number; replay: ReplayServer }> {
  const clock = new SteppedClock();
  const replay = await startReplayServer(recording(), { host: '127.0.0.1', port: 0, timing, scheduler: clock });
  const url = replay.urls[0]!.url;
  const seen: Seen[] = [];
  const start = performance.now();
  const call = post(url, CALL, clock, seen);
  await clock.advanceWhen(() => true); // request → response head
  await clock.advanceWhen(() => seen.length === 2); // the progress event reached the client → the 5 s gap
  await call;
  const list = post(url, LIST, clock, seen);
  await clock.advanceWhen(() => true); // request → response head
  await clock.advanceWhen(() => true); // head → body (the client sees the head only with the body: fetch waits for it)
  await list;
  return { seen, waits: clock.waits, realMs: performance.now() - start, replay };
}

describe('replay serve pacing in virtual time', () => {
  let replay: ReplayServer | undefined;
  afterEach(async () => {
    await replay?.close();
    replay = undefined;
  });

  it('recorded: waits exactly the recorded gaps (2 s to the head, 5 s between events, 2 s + 0.5 s for JSON), in milliseconds of real time', async () => {
    const r = await replayed({ mode: 'recorded' });
    replay = r.replay;
    expect(r.waits).toEqual([
      { at: 0, ms: 2000 },
      { at: 2000, ms: 5000 },
      { at: 7000, ms: 2000 },
      { at: 9000, ms: 500 },
    ]);
    expect(r.seen).toEqual([
      { at: 2000, text: 'head 200' },
      { at: 2000, text: PROGRESS },
      { at: 7000, text: RESULT },
      { at: 9500, text: 'head 200' },
      { at: 9500, text: TOOLS },
    ]);
    // 9.5 virtual seconds; real timers could not have finished sooner.
    expect(r.realMs).toBeLessThan(9500);
    expect(r.replay.unmatched()).toBe(0);
  });

  it('scaled:0.1: every recorded gap × 0.1 (the 5 s gap is 0.5 s)', async () => {
    const r = await replayed({ mode: 'scaled', factor: 0.1 });
    replay = r.replay;
    expect(r.waits.map((w) => w.ms)).toEqual([200, 500, 200, 50]);
    expect(r.seen.map((s) => s.at)).toEqual([200, 200, 700, 950, 950]);
    expect(r.seen[2]!.at - r.seen[1]!.at).toBe(500);
  });

  it('instant: a replayed server request the client never answers holds the stream for the answer timeout (30 s virtual), then it goes on', async () => {
    const clock = new SteppedClock();
    replay = await startReplayServer(recording(true), { host: '127.0.0.1', port: 0, scheduler: clock });
    const seen: Seen[] = [];
    const call = post(replay.urls[0]!.url, CALL, clock, seen);
    await clock.advanceWhen(() => seen.length === 2); // the sampling request reached the client, unanswered
    await call;
    expect(clock.waits).toEqual([{ at: 0, ms: 30_000 }]);
    expect(seen).toEqual([
      { at: 0, text: 'head 200' },
      { at: 0, text: SAMPLE },
      { at: 30_000, text: RESULT },
    ]);
  });
});
