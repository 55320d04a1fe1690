import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NEVER, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { DialError } from '../../../src/connection';
import { silentLogger } from '../../../src/log';
import { runSlot } from '../../../src/proxy/slot';
import { PipelineTap, ReplayErrorCode, parsePipelineRecording, type PipelineRecording } from '../../../src/replay';
import { comparePipeline, recordedDecisions, replayPipeline } from '../../../src/replay/pipeline-replay';

import { fakeConnection, scriptedLife } from '../proxy/fakes';

/** Recorded from a real gateway and proxy by test/integration/replay/pipeline-capture.test.ts. */
const FIXTURE = join(__dirname, '../../fixtures/recordings/pipeline-proxy.jsonl');
/** The same run recorded in format version 1 (slot events only), kept as it was: older files must still load and replay. */
const FIXTURE_V1 = join(__dirname, '../../fixtures/recordings/pipeline-proxy-v1.jsonl');
const load = (file = FIXTURE): PipelineRecording => parsePipelineRecording(readFileSync(file, 'utf8'));

describe('pipeline replay (virtual time)', () => {
  it.each([
    ['version 2', FIXTURE, 2],
    ['version 1', FIXTURE_V1, 1],
  ])('replays the recorded proxy run (%s) through runSlot with the same decisions, at the same times, every time', (_name, file, version) => {
    const rec = load(file);
    expect(rec.header.version).toBe(version);
    const replay = replayPipeline(rec);
    const cmp = comparePipeline(rec, replay);
    expect(cmp.differences).toEqual([]);
    expect(replay.decisions.length).toBe(recordedDecisions(rec).length);
    // Lives are replayed relative to their attempt; what remains is the real run's timer lateness (a few ms each).
    expect(cmp.maxSkewMs).toBeLessThanOrEqual(30); // 5 ms for the committed fixture
    expect(replayPipeline(rec)).toEqual(replay);
  });

  it('replays the permanent refusal, the secret swap, the GOAWAY replacement and the backoff as recorded', () => {
    const rec = load();
    const replay = replayPipeline(rec);
    const at = (state: string, n = 0): number => replay.decisions.filter((d) => d.decision.state === state)[n]!.at;
    const secretT = rec.events.find((e) => e.type === 'secret')!.t;
    const permanent = replay.decisions.find((d) => d.decision.state === 'waiting' && d.decision.permanent);
    expect(permanent?.decision).toMatchObject({ code: 'TUNNEL_AUTH_FAILED', permanent: true });
    // The long wait (30-60 s) ended at the secret swap, not at its timer.
    expect(at('connecting', 1)).toBe(secretT);
    // GOAWAY: the replacement life starts in the same virtual instant; the old connection is drained once it is up.
    expect(at('connecting', 2)).toBe(at('retiring'));
    const retired = replay.decisions.find((d) => d.decision.state === 'retiring')!.decision as { connection: string };
    // The gateway was gone: the retired connection closed before its replacement was up, so nothing was left to drain.
    const closedT = rec.events.find((e) => e.type === 'closed' && e.connection === retired.connection)!.t;
    expect(closedT).toBeLessThan(at('connected', 1));
    expect(replay.drains.map((d) => d.connection)).not.toContain(retired.connection);
    // Refused dials back off with full jitter over the recorded draws: floor(draw * min(cap, base * 2^(n-1))).
    const draws = rec.events.flatMap((e) => (e.type === 'random' ? [e.value] : []));
    const { baseMs, capMs } = rec.header.reconnect;
    const dialWaits = replay.decisions.flatMap((d) => (d.decision.state === 'waiting' && d.decision.code === 'TUNNEL_DIAL_FAILED' ? [d.decision] : []));
    expect(dialWaits.length).toBeGreaterThanOrEqual(2);
    for (const w of dialWaits) expect(w.delayMs).toBe(Math.floor(draws[replay.decisions.filter((d) => d.decision.state === 'waiting').indexOf(replay.decisions.find((d) => d.decision === w)!)]! * Math.min(capMs, baseMs * 2 ** (w.attempt - 1))));
  });

  it('reports where a changed input makes the pipeline decide differently', () => {
    const rec = load();
    // The wrong secret recorded as a transient failure: the slot must not wait the long interval.
    const changed: PipelineRecording = {
      ...rec,
      events: rec.events.map((e) => (e.type === 'failed' && e.error.kind === 'handshake' ? { ...e, error: { ...e.error, permanent: false } } : e)),
    };
    const cmp = comparePipeline(rec, replayPipeline(changed));
    expect(cmp.differences).toEqual(expect.arrayContaining([expect.stringMatching(/^slot 0 decision 2: recorded .*"permanent":true.* replayed .*"permanent":false/)]));
    // One random draw fewer: the replay runs out of recorded input and says so.
    let dropped = false;
    const fewer = { ...rec, events: rec.events.filter((e) => !(e.type === 'random' && !dropped && (dropped = true))) };
    expect(comparePipeline(rec, replayPipeline(fewer)).differences.join('\n')).toMatch(/diverged: slot 0: /);
  });

  it('replays a run recorded in virtual time at exactly the recorded times, drains included', () => {
    // The slot test's make-before-break script, recorded through the tap under a TestScheduler.
    const tap = new PipelineTap();
    const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    scheduler.run(() => {
      let n = 0;
      const dialFailed = new DialError('TUNNEL_DIAL_FAILED', 'refused', { permanent: false });
      const sub = tap.wrap(runSlot)({
        slot: 0,
        reconnect: { baseMs: 100, capMs: 1000, stableMs: 10_000 },
        secretChanges$: NEVER,
        closing: () => false,
        log: silentLogger(),
        random: () => 0.25,
        scheduler,
        connect: () => {
          n += 1;
          const conn = fakeConnection(`c${n}`, scheduler);
          if (n === 1) return throwError(() => dialFailed);
          if (n === 2) {
            scheduler.schedule(() => conn.end(), 3000);
            return scriptedLife(scheduler, [{ at: 0, event: { type: 'connected', connection: conn } }, { at: 1000, event: { type: 'retire', connection: conn, reason: 'gateway sent GOAWAY', gatewayShutdown: false } }], { at: null });
          }
          return scriptedLife(scheduler, [{ at: 500, event: { type: 'connected', connection: conn } }], { at: null });
        },
      }).subscribe();
      scheduler.schedule(() => sub.unsubscribe(), 10_000);
    });
    const rec = parsePipelineRecording(tap.toJsonl());
    expect(rec.events.filter((e) => e.type === 'drain')).toEqual([{ type: 'drain', t: 1525, slot: 0, connection: 'c2', reason: 'replaced by connection c3' }]);
    const replay = replayPipeline(rec);
    const cmp = comparePipeline(rec, replay);
    expect(cmp).toEqual({ differences: [], maxSkewMs: 0 });
    expect(replay.decisions.map((d) => d.at)).toEqual(recordedDecisions(rec).map((d) => d.at));
    expect(replay.drains).toEqual([{ at: 1525, slot: 0, connection: 'c2', reason: 'replaced by connection c3' }]);
  });

  it('refuses a file that is not a pipeline recording', () => {
    expect(() => parsePipelineRecording('{"type":"header","format":"mcp-tunnel-recording","version":1}\n')).toThrow(expect.objectContaining({ code: ReplayErrorCode.BadRecording }));
    expect(() => parsePipelineRecording('{"type":"header","format":"mcp-tunnel-pipeline-recording","version":1,"startedAt":"x","reconnect":{"baseMs":1,"capMs":2}}\nnot json\n{}')).toThrow(/pipeline recording:2: not a JSON line/);
  });
});
