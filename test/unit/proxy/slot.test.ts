import { NEVER, Subject, throwError, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { DialError } from '../../../src/connection';
import { silentLogger } from '../../../src/log';
import { ConnectionClosedError } from '../../../src/mux';
import { CloseCode } from '../../../src/protocol';
import { HandshakeError } from '../../../src/session';
import type { LinkEvent } from '../../../src/proxy/served-connection';
import { runSlot, type SlotUpdate } from '../../../src/proxy/slot';
import { fakeConnection, scriptedLife } from './fakes';

/** Runs `runSlot` in virtual time for `untilMs` and returns what it emitted, stamped with the virtual time. */
function runFor(
  untilMs: number,
  setup: (s: TestScheduler) => { connect: () => Observable<LinkEvent>; secretChanges$?: Observable<unknown>; stableMs?: number },
): Array<{ at: number; u: SlotUpdate }> {
  const out: Array<{ at: number; u: SlotUpdate }> = [];
  const scheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
  scheduler.run(() => {
    const o = setup(scheduler);
    const sub = runSlot({
      slot: 0,
      connect: o.connect,
      reconnect: { baseMs: 100, capMs: 1000, stableMs: o.stableMs ?? 10_000 },
      secretChanges$: o.secretChanges$ ?? NEVER,
      closing: () => false,
      log: silentLogger(),
      random: () => 0.5,
      scheduler,
    }).subscribe((u) => out.push({ at: scheduler.now(), u }));
    scheduler.schedule(() => sub.unsubscribe(), untilMs);
  });
  return out;
}

const states = (out: Array<{ at: number; u: SlotUpdate }>): string[] =>
  out.flatMap(({ at, u }) => ('status' in u ? [`${at}:${u.status.state}${'attempt' in u.status ? `#${u.status.attempt}` : ''}${u.status.state === 'waiting' ? `+${u.status.delayMs}` : ''}`] : [`${at}:retiring ${u.retiring.id}`]));

describe('runSlot (virtual time)', () => {
  it('reconnects with full-jitter backoff, and resets the attempt count only after a stable connection', () => {
    const dialFailed = new DialError('TUNNEL_DIAL_FAILED', 'refused', { permanent: false });
    const out = runFor(40_000, (s) => {
      let n = 0;
      return {
        connect: () => {
          n += 1;
          const conn = fakeConnection(`c${n}`, s);
          const torn = { at: null };
          switch (n) {
            case 1:
            case 2:
              return throwError(() => dialFailed);
            case 3: // up 1 s only: not stable, the backoff keeps growing
              return scriptedLife(s, [{ at: 0, event: { type: 'connected', connection: conn } }, { at: 1000, error: new ConnectionClosedError(CloseCode.HEARTBEAT_TIMEOUT, 'x', true) }], torn);
            case 4: // up 12 s: stable, the next failure starts over at attempt 1
              return scriptedLife(s, [{ at: 0, event: { type: 'connected', connection: conn } }, { at: 12_000, error: new ConnectionClosedError(CloseCode.GOING_AWAY, 'x', false) }], torn);
            default:
              return NEVER;
          }
        },
      };
    });
    // delays with random 0.5: attempt n waits floor(0.5 * min(1000, 100 * 2^(n-1))).
    expect(states(out)).toEqual([
      '0:connecting#1',
      '0:waiting#1+50',
      '50:connecting#2',
      '50:waiting#2+100',
      '150:connecting#3',
      '150:connected',
      '1150:waiting#3+200',
      '1350:connecting#4',
      '1350:connected',
      '13350:waiting#1+50',
      '13400:connecting#2',
    ]);
  });

  it('after a stable connection ends, failed redials keep the first delay range for the restart window, then grow again', () => {
    const dialFailed = new DialError('TUNNEL_DIAL_FAILED', 'refused', { permanent: false });
    const out = runFor(60_000, (s) => {
      let n = 0;
      return {
        stableMs: 20_000,
        connect: () => {
          n += 1;
          const conn = fakeConnection(`c${n}`, s);
          const torn = { at: null };
          switch (n) {
            case 1: // stable (25 s): the gateway restarts
              return scriptedLife(s, [{ at: 0, event: { type: 'connected', connection: conn } }, { at: 25_000, error: new ConnectionClosedError(CloseCode.GOING_AWAY, 'x', false) }], torn);
            case 2:
            case 3:
              return throwError(() => dialFailed);
            case 4: // up 15 s only (not stable): it ends after the restart window, so the backoff grows
              return scriptedLife(s, [{ at: 0, event: { type: 'connected', connection: conn } }, { at: 15_000, error: new ConnectionClosedError(CloseCode.HEARTBEAT_TIMEOUT, 'x', true) }], torn);
            default:
              return NEVER;
          }
        },
      };
    });
    expect(states(out)).toEqual([
      '0:connecting#1',
      '0:connected',
      '25000:waiting#1+50',
      '25050:connecting#2',
      '25050:waiting#2+50', // without the window: 100
      '25100:connecting#3',
      '25100:waiting#3+50', // without the window: 200
      '25150:connecting#4',
      '25150:connected',
      '40150:waiting#4+400', // past the window (ends at 35000): floor(0.5 * 100 * 2^3)
      '40550:connecting#5',
    ]);
  });

  it('replaces a retired connection make-before-break: the old one is drained only once the new one is authenticated', () => {
    const torn1 = { at: null as number | null };
    let old: ReturnType<typeof fakeConnection> | null = null;
    const out = runFor(10_000, (s) => {
      let n = 0;
      return {
        connect: () => {
          n += 1;
          const conn = fakeConnection(`c${n}`, s);
          if (n === 1) {
            old = conn;
            s.schedule(() => conn.end(), 3000); // the drained connection closes when its last stream ends
            return scriptedLife(s, [{ at: 0, event: { type: 'connected', connection: conn } }, { at: 1000, event: { type: 'retire', connection: conn, reason: 'gateway sent GOAWAY', gatewayShutdown: false } }], torn1);
          }
          // The replacement takes 500 ms to dial and authenticate.
          return scriptedLife(s, [{ at: 500, event: { type: 'connected', connection: conn } }], { at: null });
        },
      };
    });
    expect(states(out)).toEqual(['0:connecting#1', '0:connected', '1000:retiring c1', '1000:connecting#1', '1500:connected']);
    expect(old!.drained).toEqual([{ at: 1500, reason: 'replaced by connection c2' }]);
    // The old chain stayed subscribed (its socket open) until its connection closed, then ended.
    expect(torn1.at).toBe(3000);
  });

  it('after a permanent refusal waits the long interval, but tries again at once when the secret changes', () => {
    const refused = new HandshakeError('TUNNEL_AUTH_FAILED', 'wrong secret', { closeCode: CloseCode.AUTH_FAILED, permanent: true });
    const script = (secretAt: number | null) =>
      runFor(100_000, (s) => {
        const secretChanges$ = new Subject<void>();
        if (secretAt !== null) s.schedule(() => secretChanges$.next(), secretAt);
        let n = 0;
        return {
          secretChanges$,
          connect: () => {
            n += 1;
            return n === 1 ? throwError(() => refused) : NEVER;
          },
        };
      });
    // random 0.5: 30 s + 0.5 * 30 s.
    expect(states(script(null))).toEqual(['0:connecting#1', '0:waiting#1+45000', '45000:connecting#2']);
    expect(states(script(5000))).toEqual(['0:connecting#1', '0:waiting#1+45000', '5000:connecting#2']);
  });
});
