import { Subscription, asyncScheduler, timer, type SchedulerLike } from '../rx';
import { F, type Logger } from '../log';
import { CloseCode, ErrorCode } from '../protocol';
import { drain } from '../mux';
import { GatewayReauth, secretId, type GatewaySession } from '../session';
import type { TunnelConnection } from './tunnels';

export interface SecretRotationOptions {
  /** The tunnel's current secrets, or null once the tunnel is no longer configured (read live). */
  secretsOf: (tunnelId: string) => readonly string[] | null;
  /** `rotation.graceMs`, read when a secret is revoked. */
  graceMs: () => number;
  /** Deadline of a challenge the proxy asked for (the handshake timeout). */
  challengeDeadlineMs: () => number;
  /** Largest CONTROL payload accepted. */
  maxControlBytes: () => number;
  /** Time for the grace period and the drain (default `asyncScheduler`; a `TestScheduler` in tests). */
  scheduler?: SchedulerLike;
  /** An in-band re-authentication failed (metrics: `mcp_tunnel_auth_failures_total`). */
  onReauthFailed?: (code: string) => void;
}

/** What rotation needs of the handshake's result (the version, which secret matched, the binding). */
type HandshakeFacts = Pick<GatewaySession, 'version' | 'secretIndex' | 'channelBinding'>;

/** After the last stream of a revoked connection, before its 4401 close: the response's tail reaches its client first. */
const DRAIN_LINGER_MS = 50;

type RotationState = 'current' | 'revoked' | 'draining';

interface Tracked {
  conn: TunnelConnection;
  reauth: GatewayReauth;
  log: Logger;
  state: RotationState;
  grace: Subscription | null;
  subs: Subscription;
}

/**
 * Make-before-break secret rotation on the gateway. Tracks, per authenticated connection, which
 * secret it proved it holds (by {@link secretId}, so list reordering does not matter). After a
 * reload ({@link recheck}), a connection whose secret is no longer listed gets a `challenge`; if it
 * re-authenticates with a listed secret within `rotation.graceMs` nothing else happens. Otherwise it
 * is drained: GOAWAY (the registry stops picking it), in-flight streams finish, then close 4401.
 * Nothing is ever cut mid-request.
 */
export class SecretRotation {
  private readonly tracked = new Map<string, Tracked>();

  constructor(private readonly opts: SecretRotationOptions) {}

  /**
   * Starts tracking an authenticated connection; answers its re-authentication requests from now on.
   * Returns the teardown (call it when the connection closes).
   */
  track(conn: TunnelConnection, auth: HandshakeFacts, log: Logger): () => void {
    const secret = this.opts.secretsOf(conn.tunnelId)?.[auth.secretIndex];
    const reauth = new GatewayReauth({
      channel: conn.mux,
      version: auth.version,
      tunnelId: conn.tunnelId,
      channelBinding: auth.channelBinding,
      secrets: () => this.opts.secretsOf(conn.tunnelId) ?? [],
      // The list cannot change between the proof check and this read (same tick); '' never matches.
      initialSecretId: secret === undefined ? '' : secretId(secret),
      maxControlBytes: this.opts.maxControlBytes(),
      requestedDeadlineMs: this.opts.challengeDeadlineMs,
      logger: log,
      ...(this.opts.onReauthFailed === undefined ? {} : { onFailed: this.opts.onReauthFailed }),
    });
    const t: Tracked = { conn, reauth, log, state: 'current', grace: null, subs: new Subscription() };
    t.subs.add(reauth.authenticated$.subscribe(() => this.onReauthenticated(t)));
    this.tracked.set(conn.id, t);
    this.check(t);
    return () => this.untrack(t);
  }

  /**
   * Position in the tunnel's current `secrets` of the secret connection `connId` last proved it
   * holds; null when it is not listed any more or the connection is not tracked (read-only).
   */
  secretIndexOf(connId: string): number | null {
    const t = this.tracked.get(connId);
    if (t === undefined) return null;
    const i = (this.opts.secretsOf(t.conn.tunnelId) ?? []).findIndex((s) => secretId(s) === t.reauth.secretId);
    return i < 0 ? null : i;
  }

  /** Re-examines every connection against the current secrets (call after every reload). */
  recheck(): void {
    for (const t of this.tracked.values()) this.check(t);
  }

  /** Stops every timer and subscription (gateway shutdown). */
  close(): void {
    for (const t of [...this.tracked.values()]) this.untrack(t);
  }

  private currentIds(tunnelId: string): Set<string> {
    return new Set((this.opts.secretsOf(tunnelId) ?? []).map(secretId));
  }

  private check(t: Tracked): void {
    if (t.state === 'draining') return;
    const listed = this.currentIds(t.conn.tunnelId).has(t.reauth.secretId);
    if (listed) {
      if (t.state === 'revoked') {
        this.clearGrace(t);
        t.state = 'current';
        t.log.info('the secret of this tunnel connection is listed again; drain cancelled');
      }
      return;
    }
    if (t.state === 'revoked') return;
    const graceMs = this.opts.graceMs();
    t.state = 'revoked';
    t.log.warn({ [F.code]: 'TUNNEL_SECRET_REVOKED', graceMs }, 'the secret of this tunnel connection was removed; asking the proxy to re-authenticate');
    t.reauth.challenge('secret revoked', graceMs);
    t.grace = timer(graceMs, this.opts.scheduler ?? asyncScheduler).subscribe(() => this.drain(t));
  }

  private onReauthenticated(t: Tracked): void {
    if (t.state !== 'revoked') return;
    if (!this.currentIds(t.conn.tunnelId).has(t.reauth.secretId)) return;
    this.clearGrace(t);
    t.state = 'current';
    t.log.info('proxy re-authenticated with a current secret; drain cancelled');
  }

  private drain(t: Tracked): void {
    t.grace = null;
    if (t.state !== 'revoked') return;
    t.state = 'draining';
    const reason = 'secret revoked: re-authentication not completed within the grace period';
    t.reauth.refuse('connection is draining: its secret was revoked');
    t.log.warn(
      { [F.code]: 'TUNNEL_SECRET_REVOKED', [F.reason]: reason, inFlight: t.conn.mux.activeStreams },
      'tunnel connection did not re-authenticate; draining (no new requests, in-flight requests finish)',
    );
    t.subs.add(
      drain(t.conn.mux, {
        graceMs: Infinity, // nothing is cut: the connection closes when its last stream is done
        goAway: { code: ErrorCode.NO_ERROR, reason: 'secret revoked; draining' },
        close: { code: CloseCode.AUTH_FAILED, reason },
        lingerMs: DRAIN_LINGER_MS,
        scheduler: this.opts.scheduler,
      }).subscribe(({ closedByDrain }) => {
        if (closedByDrain) t.log.warn({ [F.code]: 'TUNNEL_SECRET_REVOKED', [F.reason]: reason }, 'drained tunnel connection closed (4401)');
      }),
    );
  }

  private clearGrace(t: Tracked): void {
    t.grace?.unsubscribe();
    t.grace = null;
  }

  private untrack(t: Tracked): void {
    if (this.tracked.get(t.conn.id) !== t) return;
    this.tracked.delete(t.conn.id);
    this.clearGrace(t);
    t.subs.unsubscribe();
    t.reauth.dispose();
  }
}
