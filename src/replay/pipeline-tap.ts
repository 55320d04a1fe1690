import { Observable, asyncScheduler, defer, map, tap, type SchedulerLike, type Subscription } from '../rx';
import type { SlotOptions, SlotUpdate } from '../proxy/slot';
import type { LinkEvent, ServedConnection } from '../proxy/served-connection';
import type { Multiplexer } from '../mux';
import { PIPELINE_FORMAT, PIPELINE_VERSION, recordError, recordedControl, recordedControlIn, type PipelineLine, type RecordedDecision } from './pipeline-format';

type SlotRunner = (o: SlotOptions) => Observable<SlotUpdate>;

/** A slot update as plain data. */
export function decisionOf(u: SlotUpdate): RecordedDecision {
  if ('retiring' in u) return { state: 'retiring', connection: u.retiring.id };
  const s = u.status;
  if (s.state === 'connected') return { state: 'connected', connection: s.connectionId };
  return s;
}

/** Connections whose `drain` is noted (`onDrain`) before it is done: one wrapper per connection, everything else read from it. */
export class DrainNoted {
  private readonly wrapped = new WeakMap<ServedConnection, ServedConnection>();
  constructor(private readonly onDrain: (conn: ServedConnection, reason: string) => void) {}

  of(conn: ServedConnection): ServedConnection {
    let wrapper = this.wrapped.get(conn);
    if (wrapper === undefined) {
      const drain = (reason: string): void => {
        this.onDrain(conn, reason);
        conn.drain(reason);
      };
      // Getters included: everything but `drain` is read from the connection itself.
      wrapper = Object.create(conn, { drain: { value: drain } }) as ServedConnection;
      this.wrapped.set(conn, wrapper);
    }
    return wrapper;
  }
}

/**
 * Records a proxy's connection pipeline (`ProxyDeps.pipelineTap`): wraps `runSlot` so that every
 * input of a slot (each `connect` call and how that life went, the random draws, secret swaps, the
 * closing flag) and every decision it emits is one {@link PipelineLine}, stamped with the scheduler's
 * clock. Observes only: values are passed on unchanged, in the same turn.
 */
export class PipelineTap {
  readonly lines: PipelineLine[] = [];
  private startedAt: number | null = null;
  private scheduler: SchedulerLike = asyncScheduler;
  private secretsWatched = false;
  /** `secret` lines so far: the generation of the current secret. */
  private secrets = 0;
  /** Connections whose multiplexer {@link observeConnection} saw. */
  private readonly observed = new Set<string>();
  /** Per slot, its latest life (the one whose connection is being made). */
  private readonly latestLife = new Map<number, number>();
  /** The slot drains a replaced connection: a decision, recorded. */
  private readonly drains = new DrainNoted((conn, reason) => this.push({ type: 'drain', t: this.now(), slot: conn.slot, connection: conn.id, reason }));

  constructor(private readonly onLine?: (line: PipelineLine) => void) {}

  /** JSON Lines of everything recorded so far (header first). */
  toJsonl(): string {
    return this.lines.map((l) => `${JSON.stringify(l)}\n`).join('');
  }

  /** `runSlot`, recorded. */
  wrap(run: SlotRunner): SlotRunner {
    return (o) => {
      this.begin(o);
      const slot = o.slot;
      let life = 0;
      let closingSeen = false;
      const wrapped: SlotOptions = {
        ...o,
        random: () => {
          const value = o.random();
          this.push({ type: 'random', t: this.now(), slot, value });
          return value;
        },
        closing: () => {
          const closing = o.closing();
          if (closing && !closingSeen) {
            closingSeen = true;
            this.push({ type: 'closing', t: this.now(), slot });
          }
          return closing;
        },
        connect: () =>
          defer(() => {
            life += 1;
            this.latestLife.set(slot, life);
            this.push({ type: 'attempt', t: this.now(), slot, life });
            return this.life(o.connect(), slot, life);
          }),
      };
      return new Observable<SlotUpdate>((subscriber) => {
        const secrets = this.watchSecrets(o.secretChanges$);
        const sub = run(wrapped).subscribe({
          next: (u) => {
            this.push({ type: 'decision', t: this.now(), slot, decision: decisionOf(u) });
            subscriber.next(u);
          },
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        });
        sub.add(secrets);
        return sub;
      });
    };
  }

  private life(source$: Observable<LinkEvent>, slot: number, life: number): Observable<LinkEvent> {
    const base = { slot, life };
    return source$.pipe(
      map((ev) => ({ ...ev, connection: this.drains.of(ev.connection) })),
      tap({
        next: (ev) => {
          const connection = ev.connection.id;
          if (ev.type === 'connected') {
            this.push({ type: 'connected', t: this.now(), ...base, connection, ...(this.observed.delete(connection) ? { mux: true as const } : {}) });
            // Closes are inputs too (a retired connection's close ends its life); observed until then.
            ev.connection.closed$.subscribe((info) => this.push({ type: 'closed', t: this.now(), ...base, connection, code: info.code, local: info.local }));
          } else this.push({ type: 'retire', t: this.now(), ...base, connection, reason: ev.reason, gatewayShutdown: ev.gatewayShutdown });
        },
        error: (err: unknown) => this.push({ type: 'failed', t: this.now(), ...base, error: recordError(err) }),
      }),
    );
  }

  /** Secret swaps, recorded once however many slots share the source. */
  private watchSecrets(changes$: Observable<unknown>): Subscription | undefined {
    if (this.secretsWatched) return undefined;
    this.secretsWatched = true;
    return changes$.subscribe(() => {
      this.secrets += 1;
      this.push({ type: 'secret', t: this.now() });
    });
  }

  /**
   * `ConnectionContext.observe`: records what a new connection's multiplexer receives (CONTROL,
   * GOAWAY) and sends (CONTROL, GOAWAY), and when it is idle after its own GOAWAY. Wraps that one
   * instance's `sendControl` and `goAway` (recorded, then done as before); the subscriptions end
   * with the connection (its subjects complete on close).
   */
  readonly observeConnection = (mux: Multiplexer, connection: string, slot: number): void => {
    this.observed.add(connection);
    const life = this.latestLife.get(slot) ?? 0;
    const at = (): { t: number; slot: number; life: number; connection: string } => ({ t: this.now(), slot, life, connection });
    mux.control$.subscribe((payload) => this.push({ type: 'control-in', ...at(), message: recordedControlIn(payload) }));
    mux.goAway$.subscribe((g) => this.push({ type: 'goaway-in', ...at(), code: g.code, reason: g.reason, inFlight: mux.activeStreams }));
    const sendControl = mux.sendControl.bind(mux);
    const goAway = mux.goAway.bind(mux);
    let goAwaySent = false;
    const observed: Pick<Multiplexer, 'sendControl' | 'goAway'> = {
      sendControl: (message) => {
        if (!mux.isClosed) this.push({ type: 'control-out', ...at(), message: recordedControl(message, this.secrets) });
        sendControl(message);
      },
      goAway: (code = 0, reason = 'going away') => {
        if (!goAwaySent && !mux.isClosed) {
          goAwaySent = true;
          this.push({ type: 'goaway-out', ...at(), code, reason, inFlight: mux.activeStreams });
          goAway(code, reason);
          mux.idle$.subscribe(() => {
            if (!mux.isClosed) this.push({ type: 'idle', ...at() });
          });
          return;
        }
        goAway(code, reason);
      },
    };
    Object.assign(mux, observed);
  };

  /** The proxy began to stop (its connections are drained within `graceMs`). */
  stopping(graceMs: number): void {
    if (this.startedAt !== null) this.push({ type: 'stop', t: this.now(), graceMs });
  }

  private begin(o: SlotOptions): void {
    if (this.startedAt !== null) return;
    this.scheduler = o.scheduler ?? asyncScheduler;
    this.startedAt = this.scheduler.now();
    this.push({ type: 'header', format: PIPELINE_FORMAT, version: PIPELINE_VERSION, startedAt: new Date().toISOString(), reconnect: { ...o.reconnect } });
  }

  private now(): number {
    return Math.round(this.scheduler.now() - (this.startedAt ?? 0));
  }

  private push(line: PipelineLine): void {
    this.lines.push(line);
    this.onLine?.(line);
  }
}
