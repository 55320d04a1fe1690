import { AsyncSubject, NEVER, Observable, Subject, Subscription, type SchedulerLike } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { silentLogger } from '../log';
import type { CloseInfo, Multiplexer } from '../mux';
import type { LinkEvent, ServedConnection } from '../proxy/served-connection';
import { runSlot } from '../proxy/slot';
import { reviveError, type PipelineLine, type PipelineRecording, type RecordedDecision } from './pipeline-format';
import { decisionOf } from './pipeline-tap';

type Event = PipelineRecording['events'][number];
type LifeEvent = Extract<Event, { life: number }>;

export interface ReplayedDecision {
  /** Virtual time (ms since the replay started). */
  at: number;
  slot: number;
  decision: RecordedDecision;
}

export interface PipelineReplay {
  decisions: ReplayedDecision[];
  /** Connections the replayed slots drained: `{ at, connection, reason }`. */
  drains: Array<{ at: number; connection: string; reason: string }>;
  /** Inputs the replay ran out of (more attempts or random draws than recorded): the run diverged. */
  divergences: string[];
}

/** A served connection with no socket: its id, its close driven by the recording, its drains noted. */
function replayedConnection(id: string, scheduler: SchedulerLike, drains: PipelineReplay['drains']): ServedConnection & { end(code: number, local: boolean): void } {
  const closed = new AsyncSubject<CloseInfo>();
  return {
    id,
    slot: 0,
    mux: { activeStreams: 0, isClosed: false } as unknown as Multiplexer, // the slot reads only activeStreams
    closed$: closed.asObservable(),
    usable: true,
    reauthenticate: () => undefined,
    drain: (reason) => drains.push({ at: scheduler.now(), connection: id, reason }),
    close: () => undefined,
    end(code, local) {
      if (closed.closed) return;
      closed.next({ code, reason: 'replayed', local });
      closed.complete();
    },
  };
}

/** One recorded life, replayed relative to the moment the slot calls `connect`. */
function lifeScript(events: LifeEvent[], attemptT: number, scheduler: SchedulerLike, drains: PipelineReplay['drains'], done: (ev: LifeEvent) => void): Observable<LinkEvent> {
  return new Observable<LinkEvent>((subscriber) => {
    const start = scheduler.now();
    const conns = new Map<string, ReturnType<typeof replayedConnection>>();
    const owned: Subscription[] = [];
    for (const ev of events) {
      const delay = Math.max(0, ev.t - attemptT - (scheduler.now() - start));
      const step = (): void => {
        done(ev);
        if (ev.type === 'connected') {
          const conn = replayedConnection(ev.connection, scheduler, drains);
          conns.set(ev.connection, conn);
          subscriber.next({ type: 'connected', connection: conn });
        } else if (ev.type === 'retire') {
          const conn = conns.get(ev.connection);
          if (conn) subscriber.next({ type: 'retire', connection: conn, reason: ev.reason, gatewayShutdown: ev.gatewayShutdown });
        } else if (ev.type === 'closed') conns.get(ev.connection)?.end(ev.code, ev.local);
        else if (ev.type === 'failed') subscriber.error(reviveError(ev.error));
      };
      // A retired connection closes after its life's chain was handed over: that close is not torn down with it.
      if (ev.type === 'closed') scheduler.schedule(step, delay);
      else owned.push(scheduler.schedule(step, delay));
    }
    return () => owned.forEach((s) => s.unsubscribe());
  });
}

/**
 * Replays a pipeline recording through the real `runSlot` under a `TestScheduler` (virtual time):
 * each slot's `connect` calls get the recorded lives in order (their events at the recorded offsets
 * from the attempt), `random` the recorded draws, secret swaps at their recorded times, and the
 * closing flag once the input recorded just before it was replayed. Returns what the slots decided, stamped with virtual time.
 */
export function replayPipeline(rec: PipelineRecording): PipelineReplay {
  const out: PipelineReplay = { decisions: [], drains: [], divergences: [] };
  const scheduler = new TestScheduler(() => undefined);
  const endT = rec.events.reduce((m, e) => Math.max(m, e.t), 0) + 1;
  // The proxy began closing right after this input was handled (a time would drift from the lives' offsets).
  const closingIndex = rec.events.findIndex((e) => e.type === 'closing');
  const closingAfter = closingIndex < 0 ? undefined : rec.events.slice(0, closingIndex).reverse().find((e): e is LifeEvent => 'life' in e);
  let closing = closingAfter === undefined && closingIndex >= 0;
  const done = (ev: LifeEvent): void => {
    if (ev === closingAfter) closing = true;
  };
  const slots = [...new Set(rec.events.flatMap((e) => (e.type === 'attempt' ? [e.slot] : [])))].sort((a, b) => a - b);
  scheduler.run(() => {
    const secrets$ = new Subject<void>();
    for (const e of rec.events) if (e.type === 'secret') scheduler.schedule(() => secrets$.next(), e.t);
    for (const slot of slots) {
      const mine = rec.events.filter((e): e is Exclude<Event, { type: 'secret' }> => e.type !== 'secret' && e.slot === slot);
      const attempts = mine.filter((e): e is Extract<Event, { type: 'attempt' }> => e.type === 'attempt');
      const draws = mine.flatMap((e) => (e.type === 'random' ? [e.value] : []));
      let calls = 0;
      const firstT = attempts[0]?.t ?? 0;
      const sub = new Subscription();
      scheduler.schedule(() => sub.add(slot$.subscribe((u) => out.decisions.push({ at: scheduler.now(), slot, decision: decisionOf(u) }))), firstT);
      const slot$ = runSlot({
        slot,
        reconnect: rec.header.reconnect,
        secretChanges$: secrets$,
        closing: () => closing,
        log: silentLogger(),
        scheduler,
        random: () => {
          const v = draws.shift();
          if (v !== undefined) return v;
          out.divergences.push(`slot ${slot}: a random draw more than recorded at ${scheduler.now()} ms`);
          return 0.5;
        },
        connect: () => {
          calls += 1;
          const attempt = attempts[calls - 1];
          if (attempt === undefined) {
            out.divergences.push(`slot ${slot}: attempt ${calls} was not recorded (at ${scheduler.now()} ms)`);
            return NEVER;
          }
          const life = mine.filter((e): e is LifeEvent => 'life' in e && e.life === attempt.life && e.type !== 'attempt');
          return lifeScript(life, attempt.t, scheduler, out.drains, done);
        },
      });
      scheduler.schedule(() => sub.unsubscribe(), endT);
    }
  });
  return out;
}

/** The recorded decisions, in the replay's shape (`at` = the recorded wall-clock offset). */
export function recordedDecisions(rec: PipelineRecording): ReplayedDecision[] {
  return rec.events.flatMap((e) => (e.type === 'decision' ? [{ at: e.t, slot: e.slot, decision: e.decision }] : []));
}

export interface PipelineComparison {
  /** Decisions that differ (value or order), as "slot n #i: recorded … replayed …"; empty when the replay matches. */
  differences: string[];
  /** Largest |virtual time − recorded time| over matching decisions: the real run's timer lateness. */
  maxSkewMs: number;
}

/** Compares a replay with the recording, slot by slot, decision by decision. */
export function comparePipeline(rec: PipelineRecording, replay: PipelineReplay): PipelineComparison {
  const recorded = recordedDecisions(rec);
  const differences = replay.divergences.map((d) => `diverged: ${d}`);
  let maxSkewMs = 0;
  const slots = new Set([...recorded, ...replay.decisions].map((d) => d.slot));
  for (const slot of slots) {
    const a = recorded.filter((d) => d.slot === slot);
    const b = replay.decisions.filter((d) => d.slot === slot);
    for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
      const ra = a[i];
      const rb = b[i];
      const sa = ra === undefined ? 'nothing' : JSON.stringify(ra.decision);
      const sb = rb === undefined ? 'nothing' : JSON.stringify(rb.decision);
      if (sa !== sb) differences.push(`slot ${slot} decision ${i + 1}: recorded ${sa} at ${ra?.at ?? '-'} ms, replayed ${sb} at ${rb?.at ?? '-'} ms`);
      else if (ra !== undefined && rb !== undefined) maxSkewMs = Math.max(maxSkewMs, Math.abs(ra.at - rb.at));
    }
  }
  return { differences, maxSkewMs };
}

export type { PipelineLine };
