/**
 * Pipeline replay of one connection's own behaviour (docs/replay.md "Deterministic replay of our own
 * pipelines", version 2 recordings): the real `serveMux` (in-band re-authentication, the gateway's
 * GOAWAY turning into `retire`, the connection's own drain, its close) runs on a {@link ReplayedMux},
 * a multiplexer without a socket whose inputs (CONTROL and GOAWAY received, idle, a close) come from
 * the recording and whose outputs (CONTROL and GOAWAY sent, the close) are noted with virtual time.
 */
import { AsyncSubject, Observable, Subject, Subscription, defer, of, take, type SchedulerLike } from '../rx';
import { silentLogger } from '../log';
import type { CloseInfo, GoAwayInfo, Multiplexer } from '../mux';
import { serveMux, stopDrain, type ConnectionContext, type LinkEvent, type ServedConnection } from '../proxy/served-connection';
import { recordedControl, reviveControl, type RecordedControl } from './pipeline-format';

/** One output of a replayed connection, e.g. `control-out {"type":"reauth","secret":1}` or `closed 1001 local`. */
export interface ReplayedConnectionEvent {
  at: number;
  slot: number;
  connection: string;
  event: string;
}

/** The text a connection output is compared by (recorded and replayed alike). */
export function connectionEventText(e: { type: 'control-out'; message: RecordedControl } | { type: 'goaway-out'; code: number; reason: string } | { type: 'closed'; code: number; local: boolean }): string {
  if (e.type === 'control-out') return `control-out ${JSON.stringify(e.message)}`;
  if (e.type === 'goaway-out') return `goaway-out ${e.code} (${e.reason})`;
  return `closed ${e.code} ${e.local ? 'local' : 'remote'}`;
}

/** The part of a multiplexer `serveMux`, `drain` and `ProxyReauth` use, driven by the recording. */
export class ReplayedMux {
  private readonly closedSubject = new AsyncSubject<CloseInfo>();
  private readonly goAwaySubject = new Subject<GoAwayInfo>();
  private readonly controlSubject = new Subject<Buffer>();
  private readonly idleSubject = new Subject<void>();
  private remoteGoAway = false;
  private closedFlag = false;
  /** The recording said the connection went idle after our GOAWAY. */
  private idleSeen = false;
  goAwaySent = false;
  activeStreams = 0;
  readonly closed$: Observable<CloseInfo> = this.closedSubject.asObservable();
  readonly goAway$: Observable<GoAwayInfo> = this.goAwaySubject.asObservable();
  readonly control$: Observable<Buffer> = this.controlSubject.asObservable();
  readonly idle$: Observable<void> = defer(() => (this.isIdle ? of(undefined) : this.idleSubject.pipe(take(1))));

  constructor(
    private readonly id: string,
    private readonly slot: number,
    private readonly scheduler: SchedulerLike,
    /** Notes an output; `secret` is the generation of the secret read last (a `reauth` proof's). */
    private readonly output: (e: ReplayedConnectionEvent) => void,
    private readonly secretGeneration: () => number,
  ) {}

  get isClosed(): boolean {
    return this.closedFlag;
  }

  get isDraining(): boolean {
    return this.goAwaySent || this.remoteGoAway;
  }

  private get isIdle(): boolean {
    return this.isClosed || this.idleSeen;
  }

  onStream(): void {}

  sendControl(message: unknown): void {
    if (this.isClosed) return;
    this.note(connectionEventText({ type: 'control-out', message: recordedControl(message, this.secretGeneration()) }));
  }

  goAway(code = 0, reason = 'going away'): void {
    if (this.goAwaySent || this.isClosed) return;
    this.goAwaySent = true;
    this.note(connectionEventText({ type: 'goaway-out', code, reason }));
  }

  close(code = 1001, reason = 'closing'): void {
    this.end(code, reason, true);
  }

  // ---- recorded inputs ----

  receiveControl(message: RecordedControl): void {
    if (!this.isClosed) this.controlSubject.next(Buffer.from(JSON.stringify(reviveControl(message))));
  }

  receiveGoAway(code: number, reason: string, inFlight: number): void {
    if (this.isClosed) return;
    this.remoteGoAway = true;
    this.activeStreams = inFlight;
    this.goAwaySubject.next({ lastStreamId: 0, code, reason });
  }

  idle(): void {
    this.idleSeen = true;
    this.activeStreams = 0;
    this.idleSubject.next();
  }

  end(code: number, reason: string, local: boolean): void {
    if (this.isClosed) return;
    this.closedFlag = true;
    this.note(connectionEventText({ type: 'closed', code, local }));
    this.closedSubject.next({ code, reason, local });
    this.closedSubject.complete();
    this.goAwaySubject.complete();
    this.controlSubject.complete();
    this.idleSubject.next();
    this.idleSubject.complete();
  }

  private note(event: string): void {
    this.output({ at: this.scheduler.now(), slot: this.slot, connection: this.id, event });
  }
}

/** A connection replayed through `serveMux`: its multiplexer, its served connection, its subscription (the life's). */
export interface MuxReplayed {
  mux: ReplayedMux;
  served: ServedConnection | null;
  sub: Subscription;
}

/**
 * The replay's side of what the proxy does around its connections: the context `serveMux` gets
 * (the secret as a generation counter, the closing flag, the open connections), the proxy's own
 * re-authentication request on a secret change, and its stop.
 */
export class ConnectionReplay {
  private generation = 0;
  private lastRead = 0;
  private readonly open = new Set<ServedConnection>();
  /** Drains started by a replayed stop; released with the replay. */
  readonly drains = new Subscription();
  /** Set when the replay ends: what its teardown closes is not an output. */
  ended = false;
  readonly ctx: ConnectionContext;

  constructor(
    private readonly scheduler: SchedulerLike,
    closing: () => boolean,
    private readonly outputs: ReplayedConnectionEvent[],
  ) {
    this.ctx = {
      tunnelId: 'replay',
      url: 'replay',
      local: { maxHeaderBytes: 65_536 } as ConnectionContext['local'], // serveMux reads only maxHeaderBytes (the control limit)
      heartbeatIntervalMs: 0,
      maxConnectionAgeMs: 0, // a retirement by age is replayed from the recording
      secret: () => {
        this.lastRead = this.generation;
        return this.secretOf(this.generation);
      },
      serveStream: () => undefined,
      changed: (conn, isOpen) => (isOpen && !conn.mux.isClosed ? this.open.add(conn) : this.open.delete(conn)),
      closing,
      log: silentLogger(),
      random: () => 0.5,
      scheduler,
    };
  }

  /** The current secret's generation (0 until the first `secret` line). */
  get secretGeneration(): number {
    return this.generation;
  }

  /**
   * Serves a recorded connection: `serveMux` on a new {@link ReplayedMux}, its events to `subscriber`.
   * `usedGeneration`: the secret its handshake was made with.
   */
  serve(id: string, slot: number, usedGeneration: number, subscriber: { next: (ev: LinkEvent) => void; error: (err: unknown) => void }): MuxReplayed {
    const note = (e: ReplayedConnectionEvent): void => {
      if (!this.ended) this.outputs.push(e);
    };
    const mux = new ReplayedMux(id, slot, this.scheduler, note, () => this.lastRead);
    const replayed: MuxReplayed = { mux, served: null, sub: new Subscription() };
    replayed.sub = serveMux(this.ctx, slot, mux as unknown as Multiplexer, { connectionId: id, version: 1, channelBinding: '' }, this.secretOf(usedGeneration)).subscribe({
      next: (ev) => {
        if (ev.type === 'connected') replayed.served = ev.connection;
        subscriber.next(ev);
      },
      error: (err: unknown) => subscriber.error(err),
    });
    return replayed;
  }

  /** A secret swap: what `startProxy` does on one (every open connection asks to re-authenticate if it must). */
  secretChanged(): void {
    this.generation += 1;
    for (const conn of this.open) conn.reauthenticate();
  }

  /** The proxy's stop: every open connection drained within the grace. */
  stop(graceMs: number): void {
    for (const conn of [...this.open]) this.drains.add(stopDrain(conn, graceMs, this.scheduler).subscribe());
  }

  private secretOf(generation: number): string {
    return `replayed secret ${generation}`;
  }
}
