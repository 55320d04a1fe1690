import { AsyncSubject, NEVER, Observable, Subject, Subscription, type SchedulerLike, type Subscriber } from '../rx';
import { TestScheduler } from 'rxjs/testing';
import { silentLogger } from '../log';
import type { CloseInfo, Multiplexer } from '../mux';
import type { LinkEvent, ServedConnection } from '../proxy/served-connection';
import { runSlot } from '../proxy/slot';
import { ConnectionReplay, connectionEventText, type MuxReplayed, type ReplayedConnectionEvent } from './pipeline-connection';
import { reviveError, type PipelineRecording, type RecordedDecision } from './pipeline-format';
import { DrainNoted, decisionOf } from './pipeline-tap';

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
  /** What the connections replayed through `serveMux` sent and how they closed (version 2 recordings). */
  connections: ReplayedConnectionEvent[];
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

/** Outputs of a connection, compared rather than delivered. */
const CONNECTION_OUTPUTS: ReadonlySet<string> = new Set(['control-out', 'goaway-out']);

/** The replay's state: the lives subscribed now (by `slot:life`) and every connection by id. */
class Inputs {
  readonly lives = new Map<string, Subscriber<LinkEvent>>();
  readonly conns = new Map<string, ReplayedConnection>();
  /** Connections replayed through `serveMux` (recorded with `mux`), by id and by their life. */
  private readonly muxes = new Map<string, MuxReplayed>();
  private readonly muxLives = new Map<string, MuxReplayed>();
  /** The secret generation when each life's attempt started (its handshake's secret). */
  private readonly generationAt = new Map<string, number>();
  /** Drains of the connections replayed through `serveMux` (the slot's decision). */
  private readonly noted: DrainNoted;
  /** Inputs whose attempt had not started when they came. */
  private readonly pending = new Map<string, LifeEvent[]>();
  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly out: PipelineReplay,
    private readonly connections: ConnectionReplay,
  ) {
    this.noted = new DrainNoted((conn, reason) => out.drains.push({ at: scheduler.now(), slot: conn.slot, connection: conn.id, reason }));
  }

  /** Delivers one recorded input of a life to the replayed pipeline. */
  deliver(ev: LifeEvent): void {
    if (this.deliverToMux(ev)) return;
    if (ev.type === 'closed') return this.conns.get(ev.connection)?.end(ev.code, ev.local);
    const key = `${ev.slot}:${ev.life}`;
    const life = this.lives.get(key);
    if (life === undefined) {
      // Its attempt starts later in this same instant (a timer due now), or never (then `unfinished` says so).
      this.pending.set(key, [...(this.pending.get(key) ?? []), ev]);
      return;
    }
    if (ev.type === 'connected' && ev.mux === true) this.serve(ev, key, life);
    else if (ev.type === 'connected') {
      const conn = replayedConnection(ev.connection, ev.slot, this.scheduler, this.out.drains);
      this.conns.set(ev.connection, conn);
      life.next({ type: 'connected', connection: conn });
    } else if (ev.type === 'retire') {
      const conn = this.conns.get(ev.connection);
      if (conn) life.next({ type: 'retire', connection: conn, reason: ev.reason, gatewayShutdown: ev.gatewayShutdown });
    } else if (ev.type === 'failed') life.error(reviveError(ev.error));
  }

  /**
   * An input of a connection replayed through `serveMux`: CONTROL and GOAWAY received, idle, its
   * close (unless the replay drained it: a drain's close is the replay's own to make). Its `retire`
   * and the `failed` that ends its life come from `serveMux` itself, except a retirement by age.
   * True when handled here.
   */
  private deliverToMux(ev: LifeEvent): boolean {
    if (CONNECTION_OUTPUTS.has(ev.type)) return true;
    const m = 'connection' in ev ? this.muxes.get(ev.connection) : ev.type === 'failed' ? this.muxLives.get(`${ev.slot}:${ev.life}`) : undefined;
    if (m === undefined) return false;
    if (ev.type === 'control-in') m.mux.receiveControl(ev.message);
    else if (ev.type === 'goaway-in') m.mux.receiveGoAway(ev.code, ev.reason, ev.inFlight);
    else if (ev.type === 'idle') m.mux.idle();
    else if (ev.type === 'closed' && (!ev.local || !m.mux.goAwaySent)) m.mux.end(ev.code, 'replayed', ev.local);
    else if (ev.type === 'retire' && !m.mux.isDraining && m.served !== null) {
      this.lives.get(`${ev.slot}:${ev.life}`)?.next({ type: 'retire', connection: this.noted.of(m.served), reason: ev.reason, gatewayShutdown: ev.gatewayShutdown });
    }
    return true;
  }

  /** A recorded connection served by the real `serveMux` on a replayed multiplexer. */
  private serve(ev: Extract<LifeEvent, { type: 'connected' }>, key: string, life: Subscriber<LinkEvent>): void {
    const m = this.connections.serve(ev.connection, ev.slot, this.generationAt.get(key) ?? 0, {
      next: (le) => life.next({ ...le, connection: this.noted.of(le.connection) }),
      error: (err) => life.error(err),
    });
    this.muxes.set(ev.connection, m);
    this.muxLives.set(key, m);
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
      this.generationAt.set(key, this.connections.secretGeneration);
      const waiting = this.pending.get(key) ?? [];
      this.pending.delete(key);
      for (const ev of waiting) this.deliver(ev);
      return () => {
        this.lives.delete(key);
        // As when the slot lets go of a real life: serveMux's teardown (which keeps a retired connection open).
        this.muxLives.get(key)?.sub.unsubscribe();
      };
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
  const out: PipelineReplay = { decisions: [], drains: [], divergences: [], connections: [] };
  const scheduler = new TestScheduler(() => undefined);
  const flag = closingFlag(rec);
  const connections = new ConnectionReplay(scheduler, () => flag.closing, out.connections);
  const inputs = new Inputs(scheduler, out, connections);
  const endT = rec.events.reduce((m, e) => Math.max(m, e.t), 0) + 1;
  const slots = [...new Set(rec.events.flatMap((e) => (e.type === 'attempt' ? [e.slot] : [])))].sort((a, b) => a - b);
  scheduler.run(() => {
    const secrets$ = new Subject<void>();
    // Scheduled up front, in recorded order: inputs at the same time keep their order.
    for (const e of rec.events) {
      if (e.type === 'secret') {
        scheduler.schedule(() => {
          // As in startProxy: the open connections ask to re-authenticate, then the slots hear of it.
          connections.secretChanged();
          secrets$.next();
        }, e.t);
      } else if (e.type === 'stop') {
        scheduler.schedule(() => {
          flag.closing = true;
          connections.stop(e.graceMs);
        }, e.t);
      } else if ('life' in e && e.type !== 'attempt') {
        scheduler.schedule(() => {
          // The slot asks while it handles this input (a failure ending a life while the proxy stops).
          if (e === flag.after) flag.closing = true;
          inputs.deliver(e);
        }, e.t);
      }
    }
    // What the end of the replay closes is not an output (the real run went on).
    scheduler.schedule(() => (connections.ended = true), endT);
    for (const slot of slots) replaySlot(rec, slot, { scheduler, inputs, secrets$, closing: () => flag.closing, out, endT });
  });
  connections.drains.unsubscribe();
  out.divergences.push(...inputs.unfinished());
  return out;
}

/**
 * When the replayed proxy is closing: from its recorded `stop` (version 2), else from the input the
 * slot was handling when it first saw the flag (`after`; at once when there is none before it).
 */
function closingFlag(rec: PipelineRecording): { closing: boolean; after: LifeEvent | undefined } {
  if (rec.events.some((e) => e.type === 'stop')) return { closing: false, after: undefined };
  const closingIndex = rec.events.findIndex((e) => e.type === 'closing');
  const after = closingIndex < 0 ? undefined : rec.events.slice(0, closingIndex).reverse().find((e): e is LifeEvent => 'life' in e && e.type !== 'attempt');
  return { closing: after === undefined && closingIndex >= 0, after };
}

interface SlotReplay {
  scheduler: TestScheduler;
  inputs: Inputs;
  secrets$: Subject<void>;
  closing: () => boolean;
  out: PipelineReplay;
  endT: number;
}

/** One slot's `runSlot`, fed its recorded attempts and random draws, subscribed at its first attempt until `endT`. */
function replaySlot(rec: PipelineRecording, slot: number, r: SlotReplay): void {
  const { scheduler, out } = r;
  const mine = rec.events.filter((e) => 'slot' in e && e.slot === slot);
  const attempts = mine.filter((e): e is Extract<Event, { type: 'attempt' }> => e.type === 'attempt');
  const draws = mine.flatMap((e) => (e.type === 'random' ? [e.value] : []));
  let calls = 0;
  const slot$ = runSlot({
    slot,
    reconnect: rec.header.reconnect,
    secretChanges$: r.secrets$,
    closing: r.closing,
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
      if (attempt !== undefined) return r.inputs.life(slot, attempt.life);
      out.divergences.push(`slot ${slot}: attempt ${calls} was not recorded (at ${scheduler.now()} ms)`);
      return NEVER;
    },
  });
  const sub = new Subscription();
  scheduler.schedule(() => sub.add(slot$.subscribe((u) => out.decisions.push({ at: scheduler.now(), slot, decision: decisionOf(u) }))), attempts[0]?.t ?? 0);
  scheduler.schedule(() => sub.unsubscribe(), r.endT);
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

/**
 * Compares two timed sequences slot by slot (or by a finer `group`: each connection's own outputs are
 * ordered, but two connections' outputs a millisecond apart may interleave either way in a real run);
 * returns the largest skew of equal entries.
 */
function compareSeq<T extends Timed>(
  what: string,
  a: T[],
  b: T[],
  show: (x: T) => string,
  differences: string[],
  group: (x: T) => string = (x) => `slot ${x.slot}`,
): number {
  let skew = 0;
  for (const g of new Set([...a, ...b].map(group))) {
    const ra = a.filter((d) => group(d) === g);
    const rb = b.filter((d) => group(d) === g);
    for (let i = 0; i < Math.max(ra.length, rb.length); i += 1) {
      const x = ra[i];
      const y = rb[i];
      const sx = x === undefined ? 'nothing' : show(x);
      const sy = y === undefined ? 'nothing' : show(y);
      if (sx !== sy) differences.push(`${g} ${what} ${i + 1}: recorded ${sx} at ${x?.at ?? '-'} ms, replayed ${sy} at ${y?.at ?? '-'} ms`);
      else if (x !== undefined && y !== undefined) skew = Math.max(skew, Math.abs(x.at - y.at));
    }
  }
  return skew;
}

/** What the connections replayed through `serveMux` sent and how they closed, as recorded. */
export function recordedConnectionEvents(rec: PipelineRecording): ReplayedConnectionEvent[] {
  const replayed = new Set(rec.events.flatMap((e) => (e.type === 'connected' && e.mux === true ? [e.connection] : [])));
  return rec.events.flatMap((e) =>
    (e.type === 'control-out' || e.type === 'goaway-out' || e.type === 'closed') && replayed.has(e.connection) ? [{ at: e.t, slot: e.slot, connection: e.connection, event: connectionEventText(e) }] : [],
  );
}

/** Compares a replay with the recording, slot by slot: every decision, every drain, every connection output. */
export function comparePipeline(rec: PipelineRecording, replay: PipelineReplay): PipelineComparison {
  const differences = replay.divergences.map((d) => `diverged: ${d}`);
  const drains = rec.events.flatMap((e) => (e.type === 'drain' ? [{ at: e.t, slot: e.slot, connection: e.connection, reason: e.reason }] : []));
  const skew = compareSeq('decision', recordedDecisions(rec), replay.decisions, (d) => JSON.stringify(d.decision), differences);
  const drainSkew = compareSeq('drain', drains, replay.drains, (d) => `${d.connection} (${d.reason})`, differences);
  const connSkew = compareSeq('connection event', recordedConnectionEvents(rec), replay.connections, (d) => `${d.connection}: ${d.event}`, differences, (d) => `slot ${d.slot} connection ${d.connection}`);
  return { differences, maxSkewMs: Math.max(skew, drainSkew, connSkew) };
}
