import { AsyncSubject, Observable, type SchedulerLike } from 'rxjs';
import type { CloseInfo, Multiplexer } from '../../../src/mux';
import type { ServedConnection, LinkEvent } from '../../../src/proxy/served-connection';

/** A served connection with no socket: enough for the slot's policy, driven by the test. */
export interface FakeConnection extends ServedConnection {
  drained: Array<{ at: number; reason: string }>;
  /** Closes it (the slot sees `closed$`). */
  end(code?: number): void;
}

export function fakeConnection(id: string, scheduler: SchedulerLike): FakeConnection {
  const closed = new AsyncSubject<CloseInfo>();
  const mux = { activeStreams: 0, isClosed: false } as unknown as Multiplexer; // the slot reads only activeStreams
  const c: FakeConnection = {
    id,
    slot: 0,
    mux,
    closed$: closed.asObservable(),
    usable: true,
    drained: [],
    reauthenticate: () => undefined,
    drain(reason) {
      c.drained.push({ at: scheduler.now(), reason });
    },
    close: () => c.end(),
    end(code = 4000) {
      if (closed.closed) return;
      closed.next({ code, reason: 'test', local: false });
      closed.complete();
    },
  };
  return c;
}

/** A connection chain that emits the given events at the given virtual times and records its teardown. */
export function scriptedLife(scheduler: SchedulerLike, steps: Array<{ at: number; event?: LinkEvent; error?: unknown }>, torn: { at: number | null }): Observable<LinkEvent> {
  return new Observable<LinkEvent>((subscriber) => {
    const start = scheduler.now();
    const subs = steps.map((step) =>
      scheduler.schedule(() => {
        if (step.error !== undefined) subscriber.error(step.error);
        else if (step.event) subscriber.next(step.event);
      }, step.at - (scheduler.now() - start)),
    );
    return () => {
      torn.at = scheduler.now();
      for (const s of subs) s.unsubscribe();
    };
  });
}
