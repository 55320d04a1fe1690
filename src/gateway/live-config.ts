import { DEFAULT_RESUME_WINDOW_MS } from '../config/constants';
import type { GatewayConfig } from '../config/types';
import { componentLogger, type Logger } from '../log';
import { receiveSettings, type PeerSettings } from '../protocol';
import { ClientAuthenticator } from './auth';
import type { ForwardState } from './forward';
import { compileHostOrigin, type HostOriginSettings } from './host-origin';
import { CompiledPolicy } from './policy';

/**
 * The configuration a running gateway serves with and what is compiled from it (client
 * authenticator, server table, policy, Host/Origin lists). {@link replace} swaps all of it at once;
 * readers use the getters at each use, never a copy taken at start, so a reload reaches them.
 */
export class LiveConfig {
  #config: GatewayConfig;
  #forward: ForwardState;
  #hostOrigin: HostOriginSettings;
  readonly #logger: Logger;

  /** @param logger the gateway's root logger (the authenticator logs as component `auth`). */
  constructor(initial: GatewayConfig, logger: Logger) {
    this.#logger = logger;
    this.#config = initial;
    this.#forward = forwardState(initial, logger);
    this.#hostOrigin = hostOriginSettings(initial);
  }

  get config(): GatewayConfig {
    return this.#config;
  }

  /** What the MCP request path reads: clients, servers, limits, policy, audit body settings. */
  get forward(): ForwardState {
    return this.#forward;
  }

  get hostOrigin(): HostOriginSettings {
    return this.#hostOrigin;
  }

  /** The settings this gateway offers a proxy in the handshake (flow windows, stream and header limits). */
  localSettings(): PeerSettings {
    const c = this.#config;
    return receiveSettings(c.flow, { maxStreams: c.limits.maxStreamsPerConnection, maxHeaderBytes: c.limits.maxHeaderBytes });
  }

  /** The accepted secrets of tunnel `id`, or null when no such tunnel is configured. */
  secretsOf(id: string): readonly string[] | null {
    return this.#config.tunnels.find((t) => t.id === id)?.secrets ?? null;
  }

  /**
   * Switches to `next`. The previous authenticator is not closed: a request still waiting for its
   * JWKS load finishes with it (the load is bounded by its timeout). An unchanged jwksUrl keeps its cache.
   */
  replace(next: GatewayConfig): void {
    this.#config = next;
    this.#forward = forwardState(next, this.#logger, this.#forward);
    this.#hostOrigin = hostOriginSettings(next);
  }
}

function forwardState(c: GatewayConfig, logger: Logger, previous?: ForwardState): ForwardState {
  return {
    clients: new ClientAuthenticator(c, { logger: componentLogger(logger, 'auth'), previous: previous?.clients }),
    servers: new Map(c.servers.map((s) => [s.name, s])),
    maxRequestBodyBytes: c.limits.maxRequestBodyBytes,
    connectWaitMs: c.limits.connectWaitMs,
    maxOpenStreamsPerClient: c.limits.maxOpenStreamsPerClient,
    policy: new CompiledPolicy(c.policy),
    auditBodies: c.audit.bodies?.enabled ? c.audit.bodies : null,
    resumeWindowMs: c.limits.resumeWindowMs ?? DEFAULT_RESUME_WINDOW_MS,
  };
}

function hostOriginSettings(c: GatewayConfig): HostOriginSettings {
  return compileHostOrigin({ listenHost: c.listen.host, tls: c.tls !== null, allowedHosts: c.allowedHosts, allowedOrigins: c.allowedOrigins, publicUrl: c.auth?.resource ?? null });
}
