import { AsyncSubject, NEVER, Observable, Subject, Subscription, type SchedulerLike, type Subscriber } from '../rx';
import { TestScheduler } from 'rxjs/testing';
import { silentLogger } from '../log';
import type { CloseInfo, Multiplexer } from '../mux';
import type { LinkEvent, ServedConnection } from '../proxy/served-connection';
import { runSlot } from '../proxy/slot';
import { reviveError, type PipelineRecording, type RecordedDecision } from './pipeline-format';
import { decisionOf } from './pipeline-tap';

type Event = PipelineRecording['events'][number];
type LifeEvent = Extract<Event, { life: number }>;

export interface ReplayedDecision {
  /** Virtual time (ms since the replay started). */
  at: number;
  slot: number;
  decision: RecordedDecision;
}

export interface ReplayedDrain {
  at: number;
  slot: number;
  connection: string;
  reason: string;
}

export interface PipelineReplay {
  decisions: ReplayedDecision[];
  /** Connections the replayed slots drained (make-before-break). */
  drains: ReplayedDrain[];
  /** Inputs the replay could not deliver or ran out of: the run diverged from the recording. */
  divergences: string[];
}

type ReplayedConnection = ServedConnection & { end(code: number, local: boolean): void };

/** A served connection with no socket: its id, its close driven by the recording, its drains noted. */
function replayedConnection(id: string, slot: number, scheduler: SchedulerLike, drains: ReplayedDrain[]): ReplayedConnection {
  const closed = new AsyncSubject<CloseInfo>();
  return {
    id,
    slot,
    mux: { activeStreams: 0, isClosed: false } as unknown as Multiplexer, // the slot reads only activeStreams
    closed$: closed.asObservable(),
    usable: true,
    reauthenticate: () => undefined,
    drain: (reason) => drains.push({ at: scheduler.now(), slot, connection: id, reason }),
    close: () => undefined,
    end(code, local) {
      if (closed.closed) return;
      closed.next({ code, reason: 'replayed', local });
      closed.complete();
    },
  };
}

/** The replay's state: the lives subscribed now (by `slot:life`) and every connection by id. */
class Inputs {
  readonly lives = new Map<string, Subscriber<LinkEvent>>();
  readonly conns = new Map<string, ReplayedConnection>();
  /** Inputs whose attempt had not started when they came. */
  private readonly pending = new Map<string, LifeEvent[]>();
  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly out: PipelineReplay,
  ) {}

  /** Delivers one recorded input of a life to the replayed pipeline. */
  deliver(ev: LifeEvent): void {
    if (ev.type === 'closed') return this.conns.get(ev.connection)?.end(ev.code, ev.local);
    const key = `${ev.slot}:${ev.life}`;
    const life = this.lives.get(key);
    if (life === undefined) {
      // Its attempt starts later in this same instant (a timer due now), or never (then `unfinished` says so).
      this.pending.set(key, [...(this.pending.get(key) ?? []), ev]);
      return;
    }
    if (ev.type === 'connected') {
      const conn = replayedConnection(ev.connection, ev.slot, this.scheduler, this.out.drains);
      this.conns.set(ev.connection, conn);
      life.next({ type: 'connected', connection: conn });
    } else if (ev.type === 'retire') {
      const conn = this.conns.get(ev.connection);
      if (conn) life.next({ type: 'retire', connection: conn, reason: ev.reason, gatewayShutdown: ev.gatewayShutdown });
    } else if (ev.type === 'failed') life.error(reviveError(ev.error));
  }

  /** Inputs never delivered: their attempt never started in the replay. */
  unfinished(): string[] {
    return [...this.pending.values()].flat().map((ev) => `slot ${ev.slot}: ${ev.type} of attempt ${ev.life} at ${ev.t} ms, but the replay never made that attempt`);
  }

  /** The slot's `connect`: the recorded attempt it stands for, fed by {@link deliver}. */
  life(slot: number, life: number): Observable<LinkEvent> {
    return new Observable<LinkEvent>((subscriber) => {
      const key = `${slot}:${life}`;
      this.lives.set(key, subscriber);
      const waiting = this.pending.get(key) ?? [];
      this.pending.delete(key);
      for (const ev of waiting) this.deliver(ev);
      return () => this.lives.delete(key);
    });
  }
}

/**
 * Replays a pipeline recording through the real `runSlot` under a `TestScheduler` (virtual time).
 * Every input comes at its recorded time, in recorded order: how each attempt ended (to the slot's
 * n-th `connect`), retirements and closes, secret swaps; `random` returns the recorded draws; the
 * closing flag turns on with the input recorded just before it (the slot asked while handling it). The slots' own timers (backoff,
 * stability) run in virtual time, so their decisions come at the recorded times minus the real
 * run's timer lateness. Returns what the slots decided and drained, stamped with virtual time.
 */
export function replayPipeline(rec: PipelineRecording): PipelineReplay {
  const out: PipelineReplay = { decisions: [], drains: [], divergences: [] };
  const scheduler = new TestScheduler(() => undefined);
  const inputs = new Inputs(scheduler, out);
  const endT = rec.events.reduce((m, e) => Math.max(m, e.t), 0) + 1;
  const closingIndex = rec.events.findIndex((e) => e.type === 'closing');
  const closingAfter = closingIndex < 0 ? undefined : rec.events.slice(0, closingIndex).reverse().find((e): e is LifeEvent => 'life' in e && e.type !== 'attempt');
  let closing = closingAfter === undefined && closingIndex >= 0;
  const slots = [...new Set(rec.events.flatMap((e) => (e.type === 'attempt' ? [e.slot] : [])))].sort((a, b) => a - b);
  scheduler.run(() => {
    const secrets$ = new Subject<void>();
    // Scheduled up front, in recorded order: inputs at the same time keep their order.
    for (const e of rec.events) {
      if (e.type === 'secret') scheduler.schedule(() => secrets$.next(), e.t);
      else if ('life' in e && e.type !== 'attempt') {
        scheduler.schedule(() => {
          // The slot asks while it handles this input (a failure ending a life while the proxy stops).
          if (e === closingAfter) closing = true;
          inputs.deliver(e);
        }, e.t);
      }
    }
    for (const slot of slots) {
      const mine = rec.events.filter((e): e is Exclude<Event, { type: 'secret' }> => e.type !== 'secret' && e.slot === slot);
      const attempts = mine.filter((e): e is Extract<Event, { type: 'attempt' }> => e.type === 'attempt');
      const draws = mine.flatMap((e) => (e.type === 'random' ? [e.value] : []));
      let calls = 0;
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
          if (attempt !== undefined) return inputs.life(slot, attempt.life);
          out.divergences.push(`slot ${slot}: attempt ${calls} was not recorded (at ${scheduler.now()} ms)`);
          return NEVER;
        },
      });
      const sub = new Subscription();
      scheduler.schedule(() => sub.add(slot$.subscribe((u) => out.decisions.push({ at: scheduler.now(), slot, decision: decisionOf(u) }))), attempts[0]?.t ?? 0);
      scheduler.schedule(() => sub.unsubscribe(), endT);
    }
  });
  out.divergences.push(...inputs.unfinished());
  return out;
}

/** The recorded decisions, in the replay's shape (`at` = the recorded wall-clock offset). */
export function recordedDecisions(rec: PipelineRecording): ReplayedDecision[] {
  return rec.events.flatMap((e) => (e.type === 'decision' ? [{ at: e.t, slot: e.slot, decision: e.decision }] : []));
}

export interface PipelineComparison {
  /** Decisions and drains that differ (value or order), e.g. "slot 0 decision 3: recorded … replayed …"; empty when the replay matches. */
  differences: string[];
  /** Largest |virtual time − recorded time| over matching decisions: the real run's timer lateness. */
  maxSkewMs: number;
}

interface Timed {
  at: number;
  slot: number;
}

/** Compares two timed sequences slot by slot; returns the largest skew of equal entries. */
function compareSeq<T extends Timed>(what: string, a: T[], b: T[], show: (x: T) => string, differences: string[]): number {
  let skew = 0;
  for (const slot of new Set([...a, ...b].map((d) => d.slot))) {
    const ra = a.filter((d) => d.slot === slot);
    const rb = b.filter((d) => d.slot === slot);
    for (let i = 0; i < Math.max(ra.length, rb.length); i += 1) {
      const x = ra[i];
      const y = rb[i];
      const sx = x === undefined ? 'nothing' : show(x);
      const sy = y === undefined ? 'nothing' : show(y);
      if (sx !== sy) differences.push(`slot ${slot} ${what} ${i + 1}: recorded ${sx} at ${x?.at ?? '-'} ms, replayed ${sy} at ${y?.at ?? '-'} ms`);
      else if (x !== undefined && y !== undefined) skew = Math.max(skew, Math.abs(x.at - y.at));
    }
  }
  return skew;
}

/** Compares a replay with the recording, slot by slot: every decision, then every drain. */
export function comparePipeline(rec: PipelineRecording, replay: PipelineReplay): PipelineComparison {
  const differences = replay.divergences.map((d) => `diverged: ${d}`);
  const drains = rec.events.flatMap((e) => (e.type === 'drain' ? [{ at: e.t, slot: e.slot, connection: e.connection, reason: e.reason }] : []));
  const skew = compareSeq('decision', recordedDecisions(rec), replay.decisions, (d) => JSON.stringify(d.decision), differences);
  const drainSkew = compareSeq('drain', drains, replay.drains, (d) => `${d.connection} (${d.reason})`, differences);
  return { differences, maxSkewMs: Math.max(skew, drainSkew) };
}
