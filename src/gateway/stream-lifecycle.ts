import { validateHeaderName, validateHeaderValue, type IncomingMessage } from 'node:http';
import type { HeaderList } from '../http';
import { BadResponseHeadError, type MuxStream } from '../mux';
import { MAX_RESPONSE_STATUS, MIN_RESPONSE_STATUS } from '../protocol';

/**
 * How long the gateway waits, after the client's response is done, for the tunnel stream to close
 * (the proxy discarding the rest of an unread request body, bounded by its own 10 s budget) before
 * resetting it. Only an early-answered request ever waits; the audit record is written after.
 */
export const STREAM_CLOSE_WAIT_MS = 15_000;

/**
 * Checks a response head exactly as Node's `writeHead` will (`http.validateHeaderName` /
 * `validateHeaderValue`, status range), so that nothing a tunnel peer sends, nor anything the
 * gateway adds to it, can make `writeHead` throw in an event handler. The multiplexer already
 * refuses such heads (protocol/messages.ts); this is the last check before Node sees them.
 *
 * @returns the problem, or null when the head can be written.
 */
export function responseHeadProblem(status: number, headers: HeaderList): BadResponseHeadError | null {
  if (!Number.isInteger(status) || status < MIN_RESPONSE_STATUS || status > MAX_RESPONSE_STATUS) {
    return new BadResponseHeadError(`bad response head from the proxy: status ${String(status).slice(0, 16)} is outside ${MIN_RESPONSE_STATUS}-${MAX_RESPONSE_STATUS}`, null);
  }
  for (const [name, value] of headers) {
    try {
      validateHeaderName(name);
    } catch {
      return new BadResponseHeadError('bad response head from the proxy: invalid header name', JSON.stringify(name).slice(0, 64));
    }
    try {
      validateHeaderValue(name, value);
    } catch {
      return new BadResponseHeadError(`bad response head from the proxy: invalid value for header "${name}"`, name);
    }
  }
  return null;
}

/**
 * Whether the client is still sending a body that the gateway pipes into the tunnel. When the
 * response head goes out in that state, the gateway adds `Connection: close`: if the upstream
 * answered without reading everything, the rest is never read, so the client connection cannot be
 * reused (Node then closes it after the response instead of keeping it alive).
 */
export function requestStillArriving(req: IncomingMessage, piped: boolean): boolean {
  return piped && !req.readableEnded && !req.destroyed;
}

/**
 * Stops forwarding the client's body as soon as the exchange no longer needs it: when the response
 * is complete (stream `end`) or the proxy asked us to stop (`stopSending`: RST_STREAM NO_ERROR after
 * its complete response). Unpipes and pauses the client, and ENDs our side of the tunnel stream, so
 * the proxy stops discarding and the stream closes with all its credit returned
 * (docs/protocol.md §5, "a response that ends first").
 *
 * `onCut` runs once if the body was cut short.
 */
export function endRequestWithResponse(req: IncomingMessage, stream: MuxStream, onCut: () => void): void {
  let cut = false;
  const stop = (): void => {
    if (cut || req.readableEnded || stream.destroyed) return;
    cut = true;
    req.unpipe(stream);
    req.pause();
    stream.end();
    onCut();
  };
  stream.once('end', stop);
  stream.once('stopSending', stop);
}

/**
 * Resolves once the tunnel stream is closed (both sides ended, or reset). Past `maxMs` the stream is
 * reset (CANCEL) and the promise resolves: a proxy that never ends its side cannot hold the record.
 */
export function tunnelStreamClosed(stream: MuxStream, maxMs: number = STREAM_CLOSE_WAIT_MS): Promise<void> {
  if (stream.closed || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => stream.destroy(), maxMs);
    timer.unref();
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
