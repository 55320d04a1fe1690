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
/**
 * 2: also what each connection's multiplexer saw and did (CONTROL in and out, GOAWAY in and out,
 * idle, the proxy's stop). Version 1 files (slot events only) still load and replay as before.
 */
export const PIPELINE_VERSION = 2;
const READABLE_VERSIONS: readonly number[] = [1, 2];

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

/**
 * A CONTROL message (docs/protocol.md §8) as recorded: never a nonce or a proof. A proof (`reauth`)
 * is recorded as the generation of the secret it was made with: 0 for the secret the proxy started
 * with, n after the n-th `secret` line.
 */
export type RecordedControl =
  | { type: 'challenge'; reason: string; deadlineMs: number }
  | { type: 'reauth_result'; ok: boolean; reason: string }
  | { type: 'reauth_request' }
  | { type: 'reauth'; secret: number }
  /** Anything else (an unknown type, or not a control message at all): replayed as `{ type }`. */
  | { type: 'other'; name: string };

/** Where a connection's line belongs: its slot, the slot's life that made it, its id. */
interface ConnectionOf {
  t: number;
  slot: number;
  life: number;
  connection: string;
}

/** What one connection's multiplexer saw (inputs) and did (outputs), version 2. */
export type ConnectionLine =
  | (ConnectionOf & { type: 'control-in'; message: RecordedControl })
  | (ConnectionOf & { type: 'control-out'; message: RecordedControl })
  /** The gateway's GOAWAY (it drains the connection); `inFlight`: streams open then. */
  | (ConnectionOf & { type: 'goaway-in'; code: number; reason: string; inFlight: number })
  /** The proxy's GOAWAY (its own drain, or its stop). */
  | (ConnectionOf & { type: 'goaway-out'; code: number; reason: string; inFlight: number })
  /** After the proxy's GOAWAY: no stream in flight any more and the gateway acknowledged it. */
  | (ConnectionOf & { type: 'idle' });

export type PipelineLine =
  | { type: 'header'; format: typeof PIPELINE_FORMAT; version: number; startedAt: string; reconnect: { baseMs: number; capMs: number; stableMs?: number } }
  /** `life` is the slot's n-th call of `connect` (1-based); times of its events are relative to it in replay. */
  | { type: 'attempt'; t: number; slot: number; life: number }
  /** `mux`: the tap saw the connection's multiplexer (version 2): its own lines follow, and replay runs it through `serveMux`. */
  | { type: 'connected'; t: number; slot: number; life: number; connection: string; mux?: true }
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
  | { type: 'drain'; t: number; slot: number; connection: string; reason: string }
  /** The proxy began to stop (`RunningProxy.close`): every open connection is drained within `graceMs`. */
  | { type: 'stop'; t: number; graceMs: number }
  | ConnectionLine;

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
  if (header?.type !== 'header' || header.format !== PIPELINE_FORMAT || !READABLE_VERSIONS.includes(header.version)) {
    throw new ReplayError(ReplayErrorCode.BadRecording, `${name}: not a ${PIPELINE_FORMAT} file of version ${READABLE_VERSIONS.join(' or ')}`);
  }
  return { header, events: rest.filter((l): l is Exclude<PipelineLine, { type: 'header' }> => l.type !== 'header') };
}

/** A CONTROL payload received, as recorded (a nonce is left out). */
export function recordedControlIn(payload: Buffer): RecordedControl {
  let msg: unknown;
  try {
    msg = JSON.parse(payload.toString('utf8'));
  } catch {
    return { type: 'other', name: '(not JSON)' };
  }
  return recordedControl(msg, 0);
}

/** A CONTROL message as recorded; a `reauth` proof becomes the generation `secret` of its secret. */
export function recordedControl(msg: unknown, secret: number): RecordedControl {
  const m = (typeof msg === 'object' && msg !== null ? msg : {}) as Record<string, unknown>;
  if (m.type === 'challenge' && typeof m.reason === 'string' && typeof m.deadlineMs === 'number') return { type: 'challenge', reason: m.reason, deadlineMs: m.deadlineMs };
  if (m.type === 'reauth_result' && typeof m.ok === 'boolean' && typeof m.reason === 'string') return { type: 'reauth_result', ok: m.ok, reason: m.reason };
  if (m.type === 'reauth_request') return { type: 'reauth_request' };
  if (m.type === 'reauth') return { type: 'reauth', secret };
  return { type: 'other', name: typeof m.type === 'string' ? m.type : '(no type)' };
}

/** The CONTROL message a recorded one stands for (a fixed nonce: nothing checks the proof in replay). */
export function reviveControl(c: RecordedControl): object {
  if (c.type === 'challenge') return { ...c, nonce: 'A'.repeat(43) };
  if (c.type === 'reauth') return { type: 'reauth', proof: `secret ${c.secret}` };
  if (c.type === 'other') return { type: c.name };
  return c;
}
