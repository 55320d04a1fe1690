import { BehaviorSubject, Subject, type Observable } from '../rx';
import type { ServedConnection } from './served-connection';
import type { SlotStatus, SlotUpdate } from './slot';

/**
 * What the proxy is doing, for health checks, logs and tests. With several `connections` this is the
 * aggregate: `connected` while at least one authenticated connection is open (`connectionId` is the
 * newest one that takes new requests, else the newest open one; `connections` counts those that
 * take new requests, 0 for the moment a drained connection is being replaced); otherwise the latest
 * state of a slot (`slot` says which).
 */
export type ProxyStatus =
  | { state: 'connecting'; attempt: number; slot?: number }
  | { state: 'connected'; connectionId: string; connections?: number }
  | { state: 'waiting'; attempt: number; delayMs: number; error: string; code: string; permanent: boolean; slot?: number }
  | { state: 'stopped' };

/**
 * The proxy's live connections (from authentication until they close, retired ones still draining
 * included) and its slots' latest states, folded into one {@link ProxyStatus}.
 */
export class ProxyStatusBoard {
  private readonly connections = new Set<ServedConnection>();
  private readonly slots: SlotStatus[];
  private lastSlot = 0;
  private readonly status = new BehaviorSubject<ProxyStatus>({ state: 'connecting', attempt: 1 });
  /** Current status; replays the latest to new subscribers; emits only on change. */
  readonly status$: Observable<ProxyStatus> = this.status.asObservable();

  private readonly slotStatus = new Subject<SlotStatus>();
  /** Every slot status as it happens (metrics count reconnects and refusals from the `waiting` ones). */
  readonly slotStatus$: Observable<SlotStatus> = this.slotStatus.asObservable();

  constructor(slotCount: number) {
    this.slots = Array.from({ length: slotCount }, () => ({ state: 'connecting', attempt: 1 }));
  }

  /** A connection authenticated, changed state (draining) or closed (`open` false). */
  connectionChanged(conn: ServedConnection, open: boolean): void {
    if (open) this.connections.add(conn);
    else this.connections.delete(conn);
    this.publish();
  }

  slotChanged(u: SlotUpdate): void {
    if ('status' in u) {
      this.slots[u.slot] = u.status;
      this.lastSlot = u.slot;
      this.slotStatus.next(u.status);
    }
    this.publish();
  }

  /** Connections not yet closed, oldest first. */
  openConnections(): ServedConnection[] {
    return [...this.connections].filter((c) => !c.mux.isClosed);
  }

  /**
   * Connections by state now, for metrics: open ones taking new requests (`authenticated`), open
   * ones draining (`draining`), and slots dialling or authenticating with no connection (`connecting`).
   */
  counts(): { connecting: number; authenticated: number; draining: number } {
    const open = this.openConnections();
    const authenticated = open.filter((c) => c.usable).length;
    const connecting = this.slots.filter((s) => s.state === 'connecting').length;
    return { connecting, authenticated, draining: open.length - authenticated };
  }

  forEachOpen(fn: (c: ServedConnection) => void): void {
    for (const c of this.openConnections()) fn(c);
  }

  /** Final `stopped`; nothing is published after it. */
  stop(): void {
    if (this.status.closed) return;
    this.status.next({ state: 'stopped' });
    this.status.complete();
    this.slotStatus.complete();
  }

  private publish(): void {
    if (this.status.closed || this.status.value.state === 'stopped') return;
    const open = this.openConnections();
    const usable = open.filter((c) => c.usable);
    // A connection being replaced still counts as up (its streams are served) until it closes.
    const newest = usable[usable.length - 1] ?? open[open.length - 1];
    let next: ProxyStatus;
    if (newest) next = { state: 'connected', connectionId: newest.id, connections: usable.length };
    else {
      const s = this.slots[this.lastSlot] ?? { state: 'connecting', attempt: 1 };
      next = s.state === 'connected' ? { state: 'connecting', attempt: 1, slot: this.lastSlot } : { ...s, slot: this.lastSlot };
    }
    if (JSON.stringify(next) !== JSON.stringify(this.status.value)) this.status.next(next);
  }
}
