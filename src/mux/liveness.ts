import { randomBytes } from 'node:crypto';
import { interval, type SchedulerLike, type Subscription } from '../rx';

/** Silence checks per heartbeat interval: a dead peer is declared within 2 + 1/HEARTBEAT_CHECKS intervals. */
const HEARTBEAT_CHECKS = 4;

export interface LivenessOptions {
  /** PING every interval; a peer silent for two intervals is dead. 0 disables the heartbeat. */
  intervalMs: number;
  scheduler: SchedulerLike;
  /** Clock for silence and RTTs (the scheduler's unless the multiplexer was given one). */
  now(): number;
  /** Sends a PING frame with this 8-byte payload. */
  sendPing(payload: Buffer): void;
  /** Called on every heartbeat tick while the peer is alive (a held PING ACK may go out now). */
  onTick(): void;
  /** The peer has been silent for more than two intervals. Called once; the heartbeat stops. */
  onDead(silentMs: number): void;
}

/**
 * Round-trip measurement and the heartbeat of one connection. Time comes from the injected
 * scheduler, so virtual-time tests drive it.
 */
export class Liveness {
  private readonly pings = new Map<string, { sentAt: number; resolve: (rtt: number) => void }>();
  private lastReceived: number;
  private heartbeat: Subscription | null = null;
  private answered = 0;

  constructor(private readonly opts: LivenessOptions) {
    this.lastReceived = opts.now();
    const every = opts.intervalMs;
    if (every > 0) {
      // Silence is checked HEARTBEAT_CHECKS times per interval (PINGs still go once per interval): checking
      // only on the ping tick declared a dead peer up to three intervals after its last frame, not two.
      this.heartbeat = interval(Math.max(1, Math.floor(every / HEARTBEAT_CHECKS)), opts.scheduler).subscribe((tick) =>
        this.onHeartbeat(every, (tick + 1) % HEARTBEAT_CHECKS === 0),
      );
    }
  }

  /** Something arrived from the peer. */
  received(): void {
    this.lastReceived = this.opts.now();
  }

  /** Measures a round trip. Resolves with the RTT in ms; never rejects (pending pings die with the connection). */
  ping(): Promise<number> {
    const payload = randomBytes(8);
    return new Promise((resolve) => {
      this.pings.set(payload.toString('hex'), { sentAt: this.opts.now(), resolve });
      this.opts.sendPing(payload);
    });
  }

  /** An ACK answers its PING and, frames being ordered, every PING sent before it (a peer may coalesce). */
  acked(payload: Buffer): void {
    const key = payload.toString('hex');
    if (!this.pings.has(key)) return;
    const at = this.opts.now();
    for (const [k, p] of this.pings) {
      this.pings.delete(k);
      this.answered++;
      p.resolve(at - p.sentAt);
      if (k === key) return;
    }
  }

  /** PINGs of ours the peer has acknowledged so far (heartbeats included). */
  get pingsAnswered(): number {
    return this.answered;
  }

  /** Stops the heartbeat and forgets pending pings (the connection closed). */
  stop(): void {
    this.heartbeat?.unsubscribe();
    this.heartbeat = null;
    this.pings.clear();
  }

  private onHeartbeat(every: number, ping: boolean): void {
    const silent = this.opts.now() - this.lastReceived;
    if (silent > 2 * every) {
      this.stop();
      this.opts.onDead(silent);
      return;
    }
    if (ping) void this.ping();
    this.opts.onTick();
  }
}
