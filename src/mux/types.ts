import type { SchedulerLike } from '../rx';
import type { Logger } from '../log';
import type { PeerSettings, RequestHead } from '../protocol';
import type { MuxStream } from './stream';

export interface MultiplexerOptions {
  /** The gateway opens streams; the proxy accepts them. */
  role: 'gateway' | 'proxy';
  /** What we accept (announced to the peer in the handshake). */
  local: PeerSettings;
  /** What the peer accepts (from its handshake message). */
  remote: PeerSettings;
  logger: Logger;
  /** PING every interval; a peer silent for two intervals is declared dead. 0 disables. */
  heartbeatIntervalMs?: number;
  /** Time for the heartbeat (default `asyncScheduler`); a `TestScheduler` runs it in virtual time. */
  scheduler?: SchedulerLike;
  /** Injectable clock (ms); default the scheduler's. */
  now?: () => number;
}

export interface IncomingStream {
  stream: MuxStream;
  head: RequestHead;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** True when this side initiated the close. */
  local: boolean;
}

export interface GoAwayInfo {
  lastStreamId: number;
  code: number;
  reason: string;
}
