import { EventEmitter } from 'node:events';

/**
 * A one-shot cancellation for an upstream request, for the request path (D76): undici takes any
 * EventEmitter with `aborted`/`reason` as a request's `signal`, and creating this one costs ~0.2 µs
 * where an `AbortController` with its `addEventListener` costs ~5 µs (EventTarget machinery), once per
 * tunnelled request. `abort` sets `aborted` and `reason`, then emits `abort` once.
 */
export class Cancellation extends EventEmitter {
  aborted = false;
  reason: unknown = undefined;

  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit('abort');
  }
}
