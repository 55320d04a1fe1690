import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Subscription } from '../rx';
import { WebSocketServer, type WebSocket } from 'ws';
import { wsTransport } from '../connection';
import { F, type Logger } from '../log';
import { Multiplexer } from '../mux';
import { CloseCode, FRAME_HEADER_BYTES, type PeerSettings } from '../protocol';
import { acceptHandshake } from '../session';
import { parseOpsListen } from '../ops/listen-address';
import { CLUSTER_CODES, ClusterError } from './errors';
import { relayHopStream } from './hop-relay';
import type { TunnelConnection } from '../gateway/tunnels';

/** The tunnel id both ends of the internal hop prove (the cluster secret is not a tunnel's). */
export const HOP_TUNNEL_ID = 'mcp-tunnel-cluster';

/** `/cluster/{tunnelId}/{connectionId}`: which local tunnel connection the hop's streams go to. */
export function hopPath(tunnelId: string, connId: string): string {
  return `/cluster/${encodeURIComponent(tunnelId)}/${encodeURIComponent(connId)}`;
}

export interface HopServerOptions {
  listen: string;
  /** The current cluster secret (read at each handshake, so a reload applies). */
  secret: () => string;
  /** A live local connection of the tunnel, or undefined. */
  connection: (tunnelId: string, connId: string) => TunnelConnection | undefined;
  /**
   * A local connection of the tunnel that can take a stream now (the least loaded), for a stream
   * that arrives on the hop of a connection already draining; null when there is none.
   */
  usable: (tunnelId: string) => TunnelConnection | null;
  local: () => PeerSettings;
  handshakeTimeoutMs: () => number;
  heartbeatIntervalMs: () => number;
  logger: Logger;
}

/**
 * The internal-hop listener: another replica dials `/cluster/{tunnel}/{conn}`, proves the cluster
 * secret with the tunnel handshake (challenge–response, src/session), and then opens streams that
 * this replica serves exactly like its own client requests' streams on that tunnel connection
 * (hop-relay.ts). The hop closes when the tunnel connection does.
 */
export class HopServer {
  readonly #server: http.Server;
  readonly #wss: WebSocketServer;
  readonly #subs = new Subscription();
  readonly #sockets = new Set<WebSocket>();
  /** Hop multiplexers by the local connection they carry (to drain them with it). */
  readonly #hops = new Map<string, Set<Multiplexer>>();

  private constructor(private readonly opts: HopServerOptions, server: http.Server) {
    this.#server = server;
    const local = opts.local();
    this.#wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 256 * 1024 + local.maxFrameSize + local.maxHeaderBytes + 4 * FRAME_HEADER_BYTES });
    server.on('request', (_req, res) => res.writeHead(404, { connection: 'close' }).end());
    server.on('upgrade', (req: http.IncomingMessage, socket, head: Buffer) => this.#upgrade(req, socket, head));
  }

  /** Binds `opts.listen`. @throws ClusterError TUNNEL_CLUSTER_LISTEN_FAILED */
  static async start(opts: HopServerOptions): Promise<HopServer> {
    const { host, port } = parseOpsListen(opts.listen);
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new ClusterError(CLUSTER_CODES.listenFailed, `cluster.listen ${opts.listen}: ${err.message}`, { cause: err })));
      server.listen(port, host, () => resolve());
    });
    return new HopServer(opts, server);
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  #upgrade(req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer): void {
    const m = /^\/cluster\/([^/]+)\/([^/?]+)$/.exec(req.url ?? '');
    const remote = req.socket.remoteAddress ?? 'unknown';
    const conn = m ? this.opts.connection(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!)) : undefined;
    if (!conn) {
      this.opts.logger.info({ [F.code]: CLUSTER_CODES.hopUnknownConnection, [F.remote]: remote, [F.url]: req.url }, 'cluster hop refused: no such tunnel connection here');
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    req.socket.setNoDelay(true);
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#serve(ws, conn, remote));
  }

  #serve(ws: WebSocket, conn: TunnelConnection, remote: string): void {
    this.#sockets.add(ws);
    ws.once('close', () => this.#sockets.delete(ws));
    const log = this.opts.logger.child({ [F.tunnel]: conn.tunnelId, [F.connection]: conn.id, [F.remote]: remote });
    const transport = wsTransport(ws, remote);
    const local = this.opts.local();
    const handshake = acceptHandshake(transport, { tunnelId: HOP_TUNNEL_ID, secrets: () => [this.opts.secret()], local, timeoutMs: this.opts.handshakeTimeoutMs(), channelBinding: '', logger: log });
    this.#subs.add(
      handshake.subscribe({
        next: (session) => {
          const hlog = log.child({ [F.replica]: session.proxy.id });
          const mux = new Multiplexer(transport, { role: 'proxy', local, remote: session.remote, logger: hlog, heartbeatIntervalMs: this.opts.heartbeatIntervalMs() });
          mux.onStream((s) => {
            // The tunnel connection started draining (rotation, a move): drain the hop too, so the
            // other replica stops picking it. A stream that crossed that GOAWAY goes down another
            // connection of the tunnel here, as a request of this replica's own would (the registry's
            // pick); it is refused unprocessed only when there is none.
            if (conn.mux.canOpenStream) return relayHopStream(s, conn, hlog);
            mux.goAway(0, 'tunnel connection draining');
            relayHopStream(s, this.opts.usable(conn.tunnelId) ?? conn, hlog);
          });
          const hops = this.#hops.get(conn.id) ?? new Set<Multiplexer>();
          this.#hops.set(conn.id, hops.add(mux));
          hlog.info('cluster hop from another replica authenticated');
          // The hop carries one tunnel connection: it ends with it, and drains with it.
          const life = new Subscription();
          life.add(conn.mux.closed$.subscribe(() => mux.close(CloseCode.GOING_AWAY, 'tunnel connection closed')));
          life.add(conn.mux.goAway$.subscribe((g) => mux.goAway(g.code, g.reason)));
          life.add(
            mux.closed$.subscribe(() => {
              hops.delete(mux);
              if (hops.size === 0 && this.#hops.get(conn.id) === hops) this.#hops.delete(conn.id);
              life.unsubscribe();
            }),
          );
          this.#subs.add(life);
        },
        error: () => undefined, // logged by acceptHandshake, which also closed the socket
      }),
    );
  }

  /** The local connection `connId` is draining: so are the hops that carry it (GOAWAY: in-flight streams finish). */
  drainHopsOf(connId: string, reason: string): void {
    for (const mux of this.#hops.get(connId) ?? []) mux.goAway(0, reason);
  }

  /** Closes every hop and the listener. */
  async close(): Promise<void> {
    this.#subs.unsubscribe();
    for (const ws of this.#sockets) ws.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
