import { PassThrough, type Readable } from 'node:stream';
import type { Logger } from '../log';
import { discardIncoming, type DiscardBudget, type MuxStream } from '../mux';

/** The request body as handed to the dispatcher, and the view (if any) that carries it. */
export interface RequestBody {
  body: Readable | Buffer | null;
  /** The stream's view handed to undici when the body is streamed; `null` for a whole body. */
  view: PassThrough | null;
}

/**
 * The body of a tunnelled request for the dispatcher. A small request usually arrives whole (HEADERS,
 * DATA and END in one message): it is handed over as a Buffer then, which skips undici's stream-body
 * machinery. Otherwise it is streamed through a view: undici destroys a body stream once it has sent
 * it, and the Duplex also carries the response.
 */
export function requestBodyOf(stream: MuxStream): RequestBody {
  if (stream.remoteEnded) {
    const buffered = stream.readableLength > 0 ? (stream.read() as Buffer | null) : null;
    stream.resume(); // let the readable side finish
    return { body: buffered && buffered.length > 0 ? buffered : null, view: null };
  }
  const view = new PassThrough();
  stream.on('error', (err) => view.destroy(err));
  return { body: stream.pipe(view), view };
}

/** True when the response went out whole while the request body is still arriving. */
export function requestBodyUnread(stream: MuxStream): boolean {
  return !stream.destroyed && stream.writableFinished && !stream.remoteEnded;
}

/**
 * Drops what is left of a request body the upstream did not read (it answered first: 413 from
 * Content-Length, an early error). Nobody reads the rest now, and unread bytes would keep their
 * credit forever; the gateway ends its side as soon as it sees the complete response, and
 * `budget` bounds the wait and the bytes.
 */
export async function discardUnreadBody(
  stream: MuxStream,
  view: PassThrough | null,
  budget: DiscardBudget | undefined,
  log: () => Logger,
): Promise<void> {
  view?.destroy();
  const { discarded, outcome } = await discardIncoming(stream, budget);
  log().debug({ discarded, outcome }, 'upstream answered before reading the whole request body; rest discarded');
}
