import { describeError } from '../errors';
import { F, type Logger } from '../log';
import type { IncomingStream, Multiplexer, MuxStream } from '../mux';
import { ErrorCode, type ResponseHead } from '../protocol';

/** A local tunnel connection as the hop sees it: where to open the forwarded stream. */
export interface HopTarget {
  readonly mux: Pick<Multiplexer, 'openStream'>;
}

/**
 * Serves one stream that another replica opened on the internal hop: the same head and exactly the
 * same body bytes go down this replica's tunnel connection, and the answer comes back unchanged.
 * Both directions are `pipe`s between two multiplexer streams, so each hop keeps its own credit
 * windows (backpressure end to end, at most one window buffered per hop); a reset on either side
 * resets the other (cancellation crosses the hop both ways), keeping the tunnel's wire code.
 */
export function relayHopStream(incoming: IncomingStream, target: HopTarget, log: Logger): void {
  const { stream: from, head } = incoming;
  let to: MuxStream;
  try {
    to = target.mux.openStream(head, { endStream: from.remoteEnded });
  } catch (err) {
    // Not processed at all: the other replica may try another connection.
    from.resetWith(ErrorCode.REFUSED_STREAM, `tunnel connection refused the stream: ${describeError(err)}`);
    return;
  }
  if (from.remoteEnded) from.resume();
  else from.pipe(to);
  to.once('response', (responseHead: ResponseHead) => {
    from.respond(responseHead);
    to.pipe(from);
  });
  to.once('error', (err: unknown) => {
    const wire = (err as { wireCode?: number }).wireCode;
    from.resetWith(wire ?? ErrorCode.UPSTREAM_RESET, describeError(err));
  });
  from.once('error', (err: unknown) => {
    log.debug({ [F.requestId]: head.rid, [F.reason]: describeError(err) }, 'cluster hop: stream cancelled by the other replica');
    to.destroy();
  });
}
