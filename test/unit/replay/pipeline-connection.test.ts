/**
 * Pipeline replay of what a connection does inside `serveConnection` (format version 2): in-band
 * re-authentication and the connection's own drain, replayed through the real `serveMux` in virtual
 * time from test/fixtures/recordings/pipeline-connection.jsonl (recorded from a real gateway and
 * proxy by test/integration/replay/pipeline-connection-capture.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePipelineRecording, type PipelineRecording } from '../../../src/replay';
import { comparePipeline, replayPipeline } from '../../../src/replay/pipeline-replay';

const FIXTURE = join(__dirname, '../../fixtures/recordings/pipeline-connection.jsonl');
const load = (): PipelineRecording => parsePipelineRecording(readFileSync(FIXTURE, 'utf8'));

type Event = PipelineRecording['events'][number];
type Line<T extends Event['type']> = Extract<Event, { type: T }>;
function find<T extends Event['type']>(rec: PipelineRecording, type: T, pred: (l: Line<T>) => boolean = () => true): Line<T> {
  const found = rec.events.find((e): e is Line<T> => e.type === type && pred(e as Line<T>));
  if (found === undefined) throw new Error(`the fixture has no ${type} line`);
  return found;
}
const controlIn = (rec: PipelineRecording, m: Record<string, unknown>): Line<'control-in'> =>
  find(rec, 'control-in', (l) => Object.entries(m).every(([k, v]) => (l.message as Record<string, unknown>)[k] === v));

/** The recording with `line` moved to `t` (and to the place in the file that time gives it). */
function moved(rec: PipelineRecording, line: Event, t: number): PipelineRecording {
  const others = rec.events.filter((e) => e !== line);
  const at = others.findIndex((e) => e.t > t);
  const events = [...others];
  events.splice(at < 0 ? events.length : at, 0, { ...line, t });
  return { ...rec, events };
}

describe('pipeline replay of a connection: re-authentication and drain (virtual time)', () => {
  it('replays the recording through runSlot and serveMux with the same decisions, CONTROL, GOAWAY and closes, every time', () => {
    const rec = load();
    expect(rec.header.version).toBe(2);
    const replay = replayPipeline(rec);
    const cmp = comparePipeline(rec, replay);
    expect(cmp.differences).toEqual([]);
    expect(cmp.maxSkewMs).toBeLessThanOrEqual(30); // the real run's timer lateness
    expect(replayPipeline(rec)).toEqual(replay);
  });

  it('sends what the recorded proxy sent, when it sent it: a re-authentication request at the secret swap, each proof at its challenge', () => {
    const rec = load();
    const old = find(rec, 'connected').connection;
    const secretT = find(rec, 'secret').t;
    const requested = controlIn(rec, { type: 'challenge', reason: 'requested' });
    const revoked = controlIn(rec, { type: 'challenge', reason: 'secret revoked' });
    // The round trips' outcomes: refused (the gateway did not know the new secret yet), then accepted.
    expect(controlIn(rec, { type: 'reauth_result', ok: false }).t).toBeGreaterThan(requested.t);
    expect(controlIn(rec, { type: 'reauth_result', ok: true }).t).toBeGreaterThan(revoked.t);
    const replayed = replayPipeline(rec).connections.filter((e) => e.connection === old);
    expect(replayed.slice(0, 3)).toEqual([
      { at: secretT, slot: 0, connection: old, event: 'control-out {"type":"reauth_request"}' },
      // The proof of the swapped-in secret (generation 1), at the very instant each challenge came.
      { at: requested.t, slot: 0, connection: old, event: 'control-out {"type":"reauth","secret":1}' },
      { at: revoked.t, slot: 0, connection: old, event: 'control-out {"type":"reauth","secret":1}' },
    ]);
  });

  it('drains as recorded: GOAWAY in → retire and reconnect; replacement up → GOAWAY out; idle → closed by the proxy', () => {
    const rec = load();
    const old = find(rec, 'connected').connection;
    const goawayIn = find(rec, 'goaway-in');
    expect(goawayIn).toMatchObject({ connection: old, inFlight: 1 });
    const replacement = find(rec, 'connected', (l) => l.connection !== old);
    const idle = find(rec, 'idle');
    const replay = replayPipeline(rec);
    const decisions = replay.decisions.map((d) => ({ at: d.at, state: d.decision.state }));
    // The retirement and the new attempt come in the instant of the gateway's GOAWAY; the replacement when it was recorded up.
    expect(decisions).toEqual(expect.arrayContaining([{ at: goawayIn.t, state: 'retiring' }, { at: replacement.t, state: 'connected' }]));
    const retiring = decisions.findIndex((d) => d.state === 'retiring');
    expect(decisions[retiring + 1]).toEqual({ at: goawayIn.t, state: 'connecting' });
    expect(replay.drains).toEqual([{ at: replacement.t, slot: 0, connection: old, reason: `replaced by connection ${replacement.connection}` }]);
    expect(replay.connections.filter((e) => e.connection === old).slice(3)).toEqual([
      { at: replacement.t, slot: 0, connection: old, event: `goaway-out 0 (replaced by connection ${replacement.connection})` },
      // In flight until the recorded idle moment; the drain closes it then, in the same instant.
      { at: idle.t, slot: 0, connection: old, event: 'closed 4000 local' },
    ]);
  });

  it('notices a changed order or timing of the connection inputs', () => {
    const rec = load();
    // The secret swapped only after the requested challenge: the proof would be of the old secret.
    const late = moved(rec, find(rec, 'secret'), controlIn(rec, { type: 'challenge', reason: 'requested' }).t + 1);
    expect(comparePipeline(rec, replayPipeline(late)).differences.join('\n')).toMatch(/connection event 1: recorded .*reauth_request.* replayed .*"reauth","secret":0/);
    // The request in flight 20 ms longer: the replayed close follows, 20 ms later.
    const idle = find(rec, 'idle');
    const slow = replayPipeline(moved(rec, idle, idle.t + 20));
    expect(slow.connections.find((e) => e.connection === idle.connection && e.event.startsWith('closed'))?.at).toBe(idle.t + 20);
    const closed = find(rec, 'closed', (l) => l.connection === idle.connection);
    expect(comparePipeline(rec, slow).maxSkewMs).toBe(Math.max(comparePipeline(rec, replayPipeline(rec)).maxSkewMs, Math.abs(idle.t + 20 - closed.t)));
    // Never idle: the connection is still draining when the proxy stops, which closes it after the
    // replacement's GOAWAY. Each connection's own outputs are compared in order; across connections
    // only their times count (two connections' outputs a millisecond apart interleave either way in a
    // real run), so the change shows as the close's time.
    const never = replayPipeline({ ...rec, events: rec.events.filter((e) => e !== idle) });
    const oldClosed = never.connections.find((e) => e.connection === idle.connection && e.event.startsWith('closed'));
    const newGoaway = never.connections.find((e) => e.connection !== idle.connection && e.event.startsWith('goaway-out'));
    // In virtual time both happen at the proxy's stop, the close after the GOAWAY.
    expect(oldClosed!.at).toBe(newGoaway!.at);
    expect(never.connections.indexOf(oldClosed!)).toBeGreaterThan(never.connections.indexOf(newGoaway!));
    expect(oldClosed!.at).toBeGreaterThan(closed.t);
    expect(comparePipeline(rec, never).maxSkewMs).toBeGreaterThan(comparePipeline(rec, replayPipeline(rec)).maxSkewMs);
  });
});
