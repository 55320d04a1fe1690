import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { Subscription } from 'rxjs';
import { WebSocketServer, type WebSocket } from 'ws';
import { F, type Logger } from '../log';
import { Multiplexer, wsTransport } from '../mux';
import { CloseCode, closeCodeName, FRAME_HEADER_BYTES, type PeerSettings } from '../protocol';
import { acceptHandshake } from '../session';
import type { TunnelConnection, TunnelRegistry } from './tunnels';

export interface TunnelEndpointOptions {
  /** Secrets of a tunnel, or null if the tunnel is not configured (read live, so reloads apply). */
  secretsOf: (tunnelId: string) => readonly string[] | null;
  local: () => PeerSettings;
  handshakeTimeoutMs: () => number;
  heartbeatIntervalMs: () => number;
  registry: TunnelRegistry;
  logger: Logger;
}

/**
 * Accepts proxy connections at `/tunnel/{id}`: WebSocket upgrade, handshake, then a multiplexer
 * registered with the tunnel registry until it closes. Owns every connection's subscription.
 */
export class TunnelEndpoint {
  private readonly wss: WebSocketServer;
  private readonly subs = new Subscription();
  private readonly sockets = new Set<WebSocket>();

  constructor(private readonly opts: TunnelEndpointOptions) {
    const local = opts.local();
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // One message holds at most a batch of frames (256 KiB) plus one max-size frame.
      maxPayload: 256 * 1024 + local.maxFrameSize + local.maxHeaderBytes + 4 * FRAME_HEADER_BYTES,
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
    req.socket.setNoDelay(true);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws, tunnelId, remote));
  }

  private onSocket(ws: WebSocket, tunnelId: string, remote: string): void {
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
      channelBinding: '',
      logger: log,
    }).subscribe({
      next: (session) => {
        const clog = log.child({ [F.connection]: session.connectionId });
        const mux = new Multiplexer(transport, {
          role: 'gateway',
          local,
          remote: session.remote,
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
        this.subs.add(
          mux.closed$.subscribe((info) => {
            this.opts.registry.remove(conn);
            clog.info({ [F.code]: closeCodeName(info.code), [F.reason]: info.reason, byGateway: info.local }, 'proxy connection closed');
          }),
        );
        this.subs.add(mux.goAway$.subscribe(() => this.opts.registry.notify(tunnelId)));
      },
      error: () => undefined, // logged by acceptHandshake, which also closed the socket
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
