import type { Recording } from './reader';

/**
 * For each SSE event of a response that was still streaming when later requests of its session
 * arrived (the standalone GET stream, a legacy SSE stream, a long tool call), the exchange whose
 * request came last before the event: replay sends the event only once that request was matched,
 * so notifications a request caused never overtake it. Keyed by the event's `seq`.
 */
export function streamTriggers(recording: Recording): Map<number, string> {
  const out = new Map<number, string>();
  const bySession = new Map<string, typeof recording.exchanges>();
  for (const ex of recording.exchanges) {
    const k = `${ex.server}\n${ex.session ?? ''}`;
    const list = bySession.get(k) ?? [];
    list.push(ex);
    bySession.set(k, list);
  }
  for (const list of bySession.values()) {
    for (const ex of list) {
      for (const ev of ex.response?.sse ?? []) {
        let trigger: string | undefined;
        for (const other of list) {
          if (other === ex || other.seq > ev.seq) continue;
          if (other.seq > ex.seq) trigger = other.id;
        }
        if (trigger !== undefined) out.set(ev.seq, trigger);
      }
    }
  }
  return out;
}
