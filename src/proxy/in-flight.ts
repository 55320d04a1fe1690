import { describeError } from '../errors';
import { F, type Logger } from '../log';
import type { IncomingStream } from '../mux';
import { ErrorCode } from '../protocol';
import { serveStream, type ServeStreamDeps } from './serve-stream';

/**
 * Serves the streams the gateway opens and remembers each until its request is done, so the
 * proxy's drain can count and wait for them.
 */
export class InFlightStreams {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: ServeStreamDeps) {}

  /** Requests not yet done. */
  get size(): number {
    return this.inFlight.size;
  }

  /**
   * Serves one stream in the background. Never throws and never rejects: an unexpected error is
   * logged on `log` and resets the stream with INTERNAL_ERROR.
   */
  readonly serve = ({ stream, head }: IncomingStream, log: Logger): void => {
    const p = serveStream(stream, head, this.deps).catch((err: unknown) => {
      log.error({ [F.err]: describeError(err) }, 'unexpected error serving a stream');
      stream.resetWith(ErrorCode.INTERNAL_ERROR, 'internal proxy error');
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  };

  /** Settles when every request in flight now is done. */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.inFlight]);
  }
}
