import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Subscription } from '../rx';
import { WebSocketServer, type WebSocket } from 'ws';
import { F, type Logger } from '../log';
import { wsTransport } from '../connection';
import { Multiplexer } from '../mux';
import { CloseCode, closeCodeName, FRAME_HEADER_BYTES, type PeerSettings } from '../protocol';
import { acceptHandshake, gatewayChannelBinding, type GatewaySession, type GatewayChannelBinding } from '../session';
import type { TunnelAdmission } from './tunnel-admission';
import type { TunnelConnection, TunnelRegistry } from './tunnels';

/** Cluster hook (src/cluster/spread.ts): names this replica to proxies, may send a proxy elsewhere. */
export interface TunnelSpreadHook {
  readonly replicaId: string;
  redirect(req: IncomingMessage): boolean;
}

export interface TunnelEndpointOptions {
  /** Secrets of a tunnel, or null if the tunnel is not configured (read live, so reloads apply). */
  secretsOf: (tunnelId: string) => readonly string[] | null;
  local: () => PeerSettings;
  handshakeTimeoutMs: () => number;
  heartbeatIntervalMs: () => number;
  registry: TunnelRegistry;
  logger: Logger;
  /**
   * Called once a connection is authenticated and registered (secret rotation tracks it); the
   * returned teardown runs when the connection closes or the endpoint closes.
   */
  onAuthenticated?: (conn: TunnelConnection, session: GatewaySession, log: Logger) => () => void;
  /** A handshake failed with this code (metrics: `mcp_tunnel_auth_failures_total`). */
  onHandshakeFailed?: (code: string) => void;
  /** Connection limits checked at the upgrade (see tunnel-admission.ts); none when absent. */
  admission?: TunnelAdmission;
}

/**
 * Accepts proxy connections at `/tunnel/{id}`: WebSocket upgrade, handshake, then a multiplexer
 * registered with the tunnel registry until it closes. Owns every connection's subscription.
 */
export class TunnelEndpoint {
  private readonly wss: WebSocketServer;
  private readonly subs = new Subscription();
  private readonly sockets = new Set<WebSocket>();
  /** Set by the cluster (src/cluster); null for a single gateway. */
  spread: TunnelSpreadHook | null = null;

  constructor(private readonly opts: TunnelEndpointOptions) {
    const local = opts.local();
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // One message holds at most a batch of frames (256 KiB) plus one max-size frame.
      maxPayload: 256 * 1024 + local.maxFrameSize + local.maxHeaderBytes + 4 * FRAME_HEADER_BYTES,
    });
    this.wss.on('headers', (headers: string[]) => {
      if (this.spread) headers.push(`X-Mcp-Tunnel-Replica: ${this.spread.replicaId}`);
    });
  }

  /** Handles an HTTP upgrade for tunnel `tunnelId`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, tunnelId: string): void {
    const remote = req.socket.remoteAddress ?? 'unknown';
    if (this.opts.secretsOf(tunnelId) === null) {
      this.opts.logger.warn({ [F.tunnel]: tunnelId, [F.remote]: remote, [F.code]: 'TUNNEL_UNKNOWN_TUNNEL' }, 'tunnel connection for an unknown tunnel id refused');
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nunknown tunnel\n');
      return;
    }
    if (this.spread?.redirect(req)) {
      // The proxy already has a connection here and another replica is live: let the balancer pick again.
      this.opts.logger.info({ [F.tunnel]: tunnelId, [F.remote]: remote, [F.replica]: this.spread.replicaId }, 'tunnel connection sent to another replica (the proxy has one here)');
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 0\r\nX-Mcp-Tunnel-Replica: ${this.spread.replicaId}\r\nContent-Type: text/plain\r\n\r\nconnect to another replica\n`);
      return;
    }
    const admitted = this.opts.admission?.admit(tunnelId, remote);
    if (admitted !== undefined && !admitted.ok) {
      // Refused before a WebSocket exists: costs one small write, no handshake state.
      this.opts.logger.warn({ [F.tunnel]: tunnelId, [F.remote]: remote, [F.code]: 'TUNNEL_TOO_MANY_CONNECTIONS', limit: admitted.limit, [F.reason]: admitted.reason }, 'tunnel connection refused: connection limit');
      socket.end(`HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nRetry-After: ${admitted.retryAfterSeconds}\r\nContent-Type: text/plain\r\n\r\ntoo many connections (${admitted.limit})\n`);
      return;
    }
    const release = admitted === undefined ? (): void => undefined : (authenticated = false): void => admitted.release(authenticated);
    // Also covers an upgrade that ws rejects (bad headers) and never hands over: a failed attempt.
    socket.once('close', () => release(false));
    req.socket.setNoDelay(true);
    // `req.socket` is a TLSSocket when this gateway terminates TLS: the proof is then bound to it.
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, tunnelId, remote, release, gatewayChannelBinding(req.socket)));
  }

  private onSocket(
    ws: WebSocket,
    tunnelId: string,
    remote: string,
    release: (authenticated?: boolean) => void = () => undefined,
    bound: GatewayChannelBinding = { binding: 'none', channelBinding: '' },
  ): void {
    this.sockets.add(ws);
    ws.once('close', () => this.sockets.delete(ws));
    const log = this.opts.logger.child({ [F.tunnel]: tunnelId, [F.remote]: remote });
    const transport = wsTransport(ws, remote);
    const local = this.opts.local();
    const sub = acceptHandshake(transport, {
      tunnelId,
      secrets: () => this.opts.secretsOf(tunnelId) ?? [],
      local,
      timeoutMs: this.opts.handshakeTimeoutMs(),
      ...bound,
      logger: log,
    }).subscribe({
      next: (session) => {
        release(true);
        const clog = log.child({ [F.connection]: session.connectionId });
        const mux = new Multiplexer(transport, {
          role: 'gateway',
          local,
          // Our limits.maxStreamsPerConnection caps what we open even if the proxy offers more.
          remote: { ...session.remote, maxStreams: Math.min(session.remote.maxStreams, local.maxStreams) },
          logger: clog,
          heartbeatIntervalMs: this.opts.heartbeatIntervalMs(),
        });
        const conn: TunnelConnection = {
          id: session.connectionId,
          tunnelId,
          mux,
          proxyName: session.proxy.name,
          remoteAddress: remote,
          connectedAt: Date.now(),
        };
        this.opts.registry.add(conn);
        clog.info({ proxy: session.proxy.name, proxyId: session.proxy.id, version: session.version, secretIndex: session.secretIndex }, 'proxy connected and authenticated');
        const untrack = this.opts.onAuthenticated?.(conn, session, clog);
        if (untrack) this.subs.add(untrack);
        this.subs.add(
          mux.closed$.subscribe((info) => {
            if (untrack) {
              untrack();
              this.subs.remove(untrack);
            }
            this.opts.registry.remove(conn);
            clog.info({ [F.code]: closeCodeName(info.code), [F.reason]: info.reason, byGateway: info.local }, 'proxy connection closed');
          }),
        );
        this.subs.add(mux.goAway$.subscribe(() => this.opts.registry.notify(tunnelId)));
      },
      error: (err: unknown) => {
        release(false); // logged by acceptHandshake, which also closed the socket
        this.opts.onHandshakeFailed?.(codeOf(err));
      },
    });
    this.subs.add(sub);
  }

  /** Every authenticated and pending socket; for shutdown. */
  closeAll(code: number = CloseCode.GOING_AWAY, reason = 'gateway shutting down'): void {
    for (const c of this.opts.registry.all()) c.mux.close(code, reason);
    for (const ws of this.sockets) ws.close(code, reason);
  }

  /** Tears down: closes every socket, ends every subscription. */
  close(): Promise<void> {
    this.closeAll();
    this.subs.unsubscribe();
    const pending = [...this.sockets];
    return new Promise<void>((resolve) => {
      let left = pending.length;
      if (left === 0) return this.wss.close(() => resolve());
      const timer = setTimeout(() => {
        for (const ws of pending) ws.terminate();
      }, 2000);
      for (const ws of pending) {
        ws.once('close', () => {
          if (--left === 0) {
            clearTimeout(timer);
            this.wss.close(() => resolve());
          }
        });
      }
    });
  }
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'other';
}
