import { createHash } from 'node:crypto';
import { Subject, asyncScheduler, timer, type Observable, type SchedulerLike, type Subscription } from '../rx';
import { describeError } from '../errors';
import { F, type Logger } from '../log';
import { CloseCode, closeCodeOf, parseSessionControl, type SessionControlMessage } from '../protocol';
import { computeProof, matchProof, newNonce } from './proof';

/**
 * In-band re-authentication on a live tunnel connection (docs/protocol.md §8): the gateway sends
 * `challenge`, the proxy answers `reauth` with the handshake's HMAC over the new nonce, the gateway
 * answers `reauth_result`. Nothing else on the connection is touched: streams keep flowing.
 */

/** What the re-authentication needs from a multiplexer (an interface, so tests can fake it). */
export interface ControlChannel {
  readonly control$: Observable<Buffer>;
  sendControl(message: SessionControlMessage): void;
  close(code: number, reason: string): void;
}

/** The handshake parameters a re-authentication must repeat exactly. */
export interface ReauthBinding {
  version: number;
  tunnelId: string;
  /** The channel binding value the handshake used (same TLS session, same value). */
  channelBinding: string;
}

/**
 * A stable identifier of a secret, to remember which secret a connection authenticated with across
 * reloads (list positions shift). SHA-256 with a domain label; never logged, never sent.
 */
export function secretId(secret: string): string {
  return createHash('sha256').update('mcp-tunnel-secret-id\0').update(secret, 'utf8').digest('base64url');
}

/** Parses one control payload; on a malformed one closes the connection (4400/4413) and returns undefined. */
/**
 * Parses a post-handshake CONTROL payload. A malformed one closes the connection (logged); one of
 * a type this version does not know is ignored, as docs/protocol.md §8 requires. Either way the
 * result is null: there is nothing for the caller to do.
 */
function parseOrClose(payload: Buffer, limit: number, channel: ControlChannel, log: Logger): SessionControlMessage | null {
  let msg: SessionControlMessage | null;
  try {
    msg = parseSessionControl(payload, limit);
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'TUNNEL_PROTOCOL_ERROR';
    log.warn({ [F.code]: code, [F.reason]: describeError(err) }, 'closing tunnel connection: malformed control message');
    channel.close(closeCodeOf(err), 'malformed control message');
    return null;
  }
  if (msg === null) log.debug('ignoring an unknown control message');
  return msg;
}

function closeUnexpected(type: string, channel: ControlChannel, log: Logger): void {
  const reason = `unexpected control message ${type}`;
  log.warn({ [F.code]: 'TUNNEL_PROTOCOL_BAD_MESSAGE', [F.reason]: reason }, 'closing tunnel connection: protocol error');
  channel.close(CloseCode.PROTOCOL_ERROR, reason);
}

export interface GatewayReauthOptions extends ReauthBinding {
  channel: ControlChannel;
  /** The tunnel's current secrets, read when a proof is checked (so reloads apply at once). */
  secrets: () => readonly string[];
  /** {@link secretId} of the secret the handshake matched. */
  initialSecretId: string;
  /** Largest CONTROL payload accepted (our `maxHeaderBytes`). */
  maxControlBytes: number;
  /** Deadline announced in a challenge the proxy asked for. */
  requestedDeadlineMs: () => number;
  logger: Logger;
  /** Injectable clock (ms). */
  now?: () => number;
  /**
   * A proof failed (expired challenge, or no current secret matches): `TUNNEL_REAUTH_FAILED`, counted
   * with the handshake failures in `mcp_tunnel_auth_failures_total`. Must not throw.
   */
  onFailed?: (code: 'TUNNEL_REAUTH_FAILED') => void;
}

/** At most this many `reauth_request`s per minute are honoured; more are ignored (logged once). */
const MAX_REQUESTS_PER_MINUTE = 30;

/**
 * Gateway side, one per authenticated connection. Answers `reauth_request` with a challenge, checks
 * `reauth` proofs against the tunnel's current secrets, and remembers which secret the connection is
 * now authenticated with. Only the latest challenge's nonce is valid; it expires at its deadline.
 * Call {@link dispose} when the connection closes.
 */
export class GatewayReauth {
  private current: string;
  private pending: { nonce: string; expiresAt: number } | null = null;
  private refusal: string | null = null;
  private requestTimes: number[] = [];
  private readonly sub: Subscription;
  private readonly authenticated = new Subject<{ secretId: string; secretIndex: number }>();
  private readonly now: () => number;

  /** Emits after every successful re-authentication, with the secret now in use. */
  readonly authenticated$: Observable<{ secretId: string; secretIndex: number }> = this.authenticated.asObservable();

  constructor(private readonly opts: GatewayReauthOptions) {
    this.current = opts.initialSecretId;
    this.now = opts.now ?? Date.now;
    this.sub = opts.channel.control$.subscribe((payload) => this.onControl(payload));
  }

  /** {@link secretId} of the secret this connection last proved it holds. */
  get secretId(): string {
    return this.current;
  }

  /** Sends a fresh challenge (superseding any outstanding one). */
  challenge(reason: string, deadlineMs: number): void {
    const nonce = newNonce();
    this.pending = { nonce, expiresAt: this.now() + deadlineMs };
    this.opts.channel.sendControl({ type: 'challenge', nonce, reason, deadlineMs });
  }

  /** From now on every `reauth` is answered `ok: false` with `reason` (the connection is draining). */
  refuse(reason: string): void {
    this.refusal = reason;
    this.pending = null;
  }

  dispose(): void {
    this.sub.unsubscribe();
    this.pending = null;
    this.authenticated.complete();
  }

  private onControl(payload: Buffer): void {
    const log = this.opts.logger;
    const msg = parseOrClose(payload, this.opts.maxControlBytes, this.opts.channel, log);
    if (msg === null) return;
    switch (msg.type) {
      case 'reauth_request':
        return this.onRequest();
      case 'reauth':
        return this.onProof(msg.proof);
      default:
        return closeUnexpected(msg.type, this.opts.channel, log);
    }
  }

  private onRequest(): void {
    const now = this.now();
    this.requestTimes = this.requestTimes.filter((t) => now - t < 60_000);
    if (this.requestTimes.length >= MAX_REQUESTS_PER_MINUTE) {
      if (this.requestTimes.length === MAX_REQUESTS_PER_MINUTE) {
        this.opts.logger.warn({ [F.code]: 'TUNNEL_REAUTH_FAILED', [F.reason]: `more than ${MAX_REQUESTS_PER_MINUTE} requests a minute` }, 'ignoring re-authentication requests');
      }
      this.requestTimes.push(now);
      return;
    }
    this.requestTimes.push(now);
    if (this.refusal !== null) {
      this.result(false, this.refusal);
      return;
    }
    this.challenge('requested', this.opts.requestedDeadlineMs());
  }

  private onProof(proof: string): void {
    const log = this.opts.logger;
    if (this.refusal !== null) return this.result(false, this.refusal);
    const pending = this.pending;
    if (pending === null) return this.result(false, 'no challenge outstanding');
    this.pending = null;
    if (this.now() > pending.expiresAt) {
      log.warn({ [F.code]: 'TUNNEL_REAUTH_FAILED', [F.reason]: 'challenge expired' }, 'in-band re-authentication failed');
      this.opts.onFailed?.('TUNNEL_REAUTH_FAILED');
      return this.result(false, 'challenge expired');
    }
    const secrets = this.opts.secrets();
    const index = matchProof(secrets, proof, {
      version: this.opts.version,
      tunnel: this.opts.tunnelId,
      nonce: pending.nonce,
      channelBinding: this.opts.channelBinding,
    });
    const secret = index >= 0 ? secrets[index] : undefined;
    if (secret === undefined) {
      log.warn({ [F.code]: 'TUNNEL_REAUTH_FAILED', [F.reason]: 'proof matches no current secret of the tunnel' }, 'in-band re-authentication failed');
      this.opts.onFailed?.('TUNNEL_REAUTH_FAILED');
      return this.result(false, 'proof matches no current secret of the tunnel');
    }
    this.current = secretId(secret);
    log.info({ secretIndex: index }, 'proxy re-authenticated in-band');
    this.result(true, 'authenticated');
    this.authenticated.next({ secretId: this.current, secretIndex: index });
  }

  private result(ok: boolean, reason: string): void {
    this.opts.channel.sendControl({ type: 'reauth_result', ok, reason });
  }
}

export interface ProxyReauthOptions extends ReauthBinding {
  channel: ControlChannel;
  /** The current secret, read when a proof is computed. */
  secret: () => string;
  /** The secret the handshake used. */
  initialSecret: string;
  maxControlBytes: number;
  logger: Logger;
  /** Time for the `request` deadline (default `asyncScheduler`). */
  scheduler?: SchedulerLike;
}

/** Outcome of one `reauth` as the gateway reported it. */
export interface ReauthOutcome {
  ok: boolean;
  reason: string;
  /** {@link secretId} of the secret the proof was made with. */
  secretId: string;
}

/**
 * Proxy side, one per authenticated connection. Answers every challenge (asked for or not) with a
 * proof made from the current secret, and reports the gateway's verdicts. A rejected proof changes
 * nothing: the connection stays up on the secret it authenticated with before.
 * Call {@link dispose} when the connection closes.
 */
export class ProxyReauth {
  private current: string;
  /** Secrets (ids) of the proofs sent and not yet answered, oldest first. */
  private readonly sent: string[] = [];
  private requestTimer: Subscription | null = null;
  private readonly sub: Subscription;
  private readonly outcomes = new Subject<ReauthOutcome>();

  /** Every `reauth_result`, matched with the secret it was about. */
  readonly outcome$: Observable<ReauthOutcome> = this.outcomes.asObservable();

  constructor(private readonly opts: ProxyReauthOptions) {
    this.current = secretId(opts.initialSecret);
    this.sub = opts.channel.control$.subscribe((payload) => this.onControl(payload));
  }

  /** {@link secretId} of the secret the gateway last accepted on this connection. */
  get secretId(): string {
    return this.current;
  }

  /**
   * Asks the gateway for a challenge. If no verdict arrives within `timeoutMs` (an older gateway
   * ignores the request), logs TUNNEL_REAUTH_TIMEOUT; the connection is unaffected either way.
   */
  request(timeoutMs: number): void {
    this.opts.channel.sendControl({ type: 'reauth_request' });
    this.requestTimer?.unsubscribe();
    this.requestTimer = timer(timeoutMs, this.opts.scheduler ?? asyncScheduler).subscribe(() => {
      this.requestTimer = null;
      this.opts.logger.error(
        { [F.code]: 'TUNNEL_REAUTH_TIMEOUT', [F.reason]: `no answer within ${timeoutMs} ms` },
        'gateway did not complete in-band re-authentication; the connection stays on its current secret',
      );
    });
  }

  dispose(): void {
    this.sub.unsubscribe();
    this.requestTimer?.unsubscribe();
    this.requestTimer = null;
    this.outcomes.complete();
  }

  private onControl(payload: Buffer): void {
    const log = this.opts.logger;
    const msg = parseOrClose(payload, this.opts.maxControlBytes, this.opts.channel, log);
    if (msg === null) return;
    switch (msg.type) {
      case 'challenge': {
        const secret = this.opts.secret();
        if (msg.reason !== 'requested') {
          log.warn({ [F.reason]: msg.reason, deadlineMs: msg.deadlineMs }, 'gateway asks this connection to re-authenticate');
        }
        const proof = computeProof(secret, {
          version: this.opts.version,
          tunnel: this.opts.tunnelId,
          nonce: msg.nonce,
          channelBinding: this.opts.channelBinding,
        });
        this.sent.push(secretId(secret));
        if (this.sent.length > 16) this.sent.shift(); // a gateway that never answers must not grow this
        this.opts.channel.sendControl({ type: 'reauth', proof });
        return;
      }
      case 'reauth_result': {
        this.requestTimer?.unsubscribe();
        this.requestTimer = null;
        const used = this.sent.shift();
        if (used === undefined) {
          log.debug({ ok: msg.ok, [F.reason]: msg.reason }, 'ignoring a re-authentication result without a proof sent');
          return;
        }
        if (msg.ok) {
          this.current = used;
          log.info('tunnel connection re-authenticated in-band with the current secret');
        } else {
          log.error(
            { [F.code]: 'TUNNEL_REAUTH_FAILED', [F.reason]: msg.reason },
            'gateway rejected the tunnel secret in-band; the connection stays up on the secret it authenticated with',
          );
        }
        this.outcomes.next({ ok: msg.ok, reason: msg.reason, secretId: used });
        return;
      }
      default:
        return closeUnexpected(msg.type, this.opts.channel, log);
    }
  }
}
