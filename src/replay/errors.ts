import { TunnelError } from '../errors';

/** Stable codes of the record/replay errors. Compare `err.code`, never `instanceof`. */
export const ReplayErrorCode = {
  Usage: 'TUNNEL_REPLAY_USAGE',
  Io: 'TUNNEL_REPLAY_IO',
  BadRecording: 'TUNNEL_REPLAY_BAD_RECORDING',
  NoMatch: 'TUNNEL_REPLAY_NO_MATCH',
  AnswerTimeout: 'TUNNEL_REPLAY_ANSWER_TIMEOUT',
} as const;

export type ReplayErrorCode = (typeof ReplayErrorCode)[keyof typeof ReplayErrorCode];

/** A record/replay error with one of the {@link ReplayErrorCode} codes. */
export class ReplayError extends TunnelError {
  constructor(code: ReplayErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'ReplayError';
  }
}
