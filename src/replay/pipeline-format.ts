/**
 * Pipeline recordings (docs/replay.md "Deterministic replay of our own pipelines"): what one proxy
 * slot's connection pipeline was fed (connection attempts and how each ended, GOAWAY/drain retirements,
 * closes with codes, secret swaps, the random draws of its backoff) and what it decided (the slot's
 * status updates), each stamped with the milliseconds since recording started.
 */
import { AuthRevokedError, DialError } from '../connection';
import { TunnelError, describeError } from '../errors';
import { ConnectionClosedError } from '../mux';
import { HandshakeError } from '../session';
import { ReplayError, ReplayErrorCode } from './errors';
import { parseLines } from './reader';

export const PIPELINE_FORMAT = 'mcp-tunnel-pipeline-recording';
export const PIPELINE_VERSION = 1;

/** An error that ended a connection attempt or connection, as the reconnect verdict needs it. */
export type RecordedError =
  | { kind: 'dial'; code: string; message: string; permanent: boolean; status: number | null; retryAfterMs: number | null; hint: string | null }
  | { kind: 'handshake'; code: string; message: string; closeCode: number; permanent: boolean }
  | { kind: 'auth-revoked'; message: string; closeCode: number }
  | { kind: 'closed'; message: string; closeCode: number; local: boolean }
  | { kind: 'tunnel'; code: string; message: string }
  | { kind: 'other'; message: string };

/** A slot's decision: one `SlotUpdate` as plain data. */
export type RecordedDecision =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected'; connection: string }
  | { state: 'waiting'; attempt: number; delayMs: number; error: string; code: string; permanent: boolean }
  | { state: 'retiring'; connection: string };

export type PipelineLine =
  | { type: 'header'; format: typeof PIPELINE_FORMAT; version: number; startedAt: string; reconnect: { baseMs: number; capMs: number; stableMs?: number } }
  /** `life` is the slot's n-th call of `connect` (1-based); times of its events are relative to it in replay. */
  | { type: 'attempt'; t: number; slot: number; life: number }
  | { type: 'connected'; t: number; slot: number; life: number; connection: string }
  | { type: 'retire'; t: number; slot: number; life: number; connection: string; reason: string; gatewayShutdown: boolean }
  /** A connection (retired or not) closed: its `closed$` fired. */
  | { type: 'closed'; t: number; slot: number; life: number; connection: string; code: number; local: boolean }
  | { type: 'failed'; t: number; slot: number; life: number; error: RecordedError }
  | { type: 'secret'; t: number }
  | { type: 'random'; t: number; slot: number; value: number }
  /** The proxy began closing (seen when the slot asked). */
  | { type: 'closing'; t: number; slot: number }
  | { type: 'decision'; t: number; slot: number; decision: RecordedDecision }
  /** The slot drained a replaced connection (make-before-break): an output, like `decision`. */
  | { type: 'drain'; t: number; slot: number; connection: string; reason: string };

export function recordError(err: unknown): RecordedError {
  if (err instanceof DialError) return { kind: 'dial', code: err.code, message: err.message, permanent: err.permanent, status: err.status, retryAfterMs: err.retryAfterMs, hint: err.hint };
  if (err instanceof HandshakeError) return { kind: 'handshake', code: err.code, message: err.message, closeCode: err.closeCode, permanent: err.permanent };
  if (err instanceof AuthRevokedError) return { kind: 'auth-revoked', message: err.message, closeCode: err.closeCode };
  if (err instanceof ConnectionClosedError) return { kind: 'closed', message: err.message, closeCode: err.closeCode, local: err.local };
  if (err instanceof TunnelError) return { kind: 'tunnel', code: err.code, message: err.message };
  return { kind: 'other', message: describeError(err) };
}

/** The error instance a recorded one stands for (same class and facts, so the same verdict). */
export function reviveError(e: RecordedError): Error {
  let err: Error;
  switch (e.kind) {
    case 'dial':
      err = new DialError(e.code, e.message, { permanent: e.permanent, status: e.status ?? undefined, retryAfterMs: e.retryAfterMs ?? undefined, hint: e.hint });
      break;
    case 'handshake':
      err = new HandshakeError(e.code, e.message, { closeCode: e.closeCode, permanent: e.permanent });
      break;
    case 'auth-revoked':
      err = new AuthRevokedError(e.closeCode, '');
      break;
    case 'closed':
      err = new ConnectionClosedError(e.closeCode, '', e.local);
      break;
    case 'tunnel':
      err = new TunnelError(e.code, e.message);
      break;
    default:
      err = new Error(e.message);
  }
  err.message = e.message;
  return err;
}

export interface PipelineRecording {
  header: Extract<PipelineLine, { type: 'header' }>;
  events: Array<Exclude<PipelineLine, { type: 'header' }>>;
}

/** Parses a pipeline recording (JSON Lines; a partial last line is ignored, as for traffic recordings). */
export function parsePipelineRecording(text: string, name = 'pipeline recording'): PipelineRecording {
  const [header, ...rest] = parseLines<PipelineLine>(text, name).lines;
  if (header?.type !== 'header' || header.format !== PIPELINE_FORMAT || header.version !== PIPELINE_VERSION) {
    throw new ReplayError(ReplayErrorCode.BadRecording, `${name}: not a ${PIPELINE_FORMAT} version ${PIPELINE_VERSION} file`);
  }
  return { header, events: rest.filter((l): l is Exclude<PipelineLine, { type: 'header' }> => l.type !== 'header') };
}
