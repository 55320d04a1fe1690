import type { Observable } from '../rx';
import type { AuditObserver, AuditRecord } from '../audit';
import { CONNECTION_STATES, type ConnectionState } from './connection-states';
import type { Metrics } from './metrics';
import type { GatewaySnapshot } from './status-report';

/**
 * How the gateway and the proxy feed {@link Metrics}: one observer on the audit trail (every
 * request's record already carries server, method, status, bytes and duration when it starts and
 * finishes, so the request path needs no counters of its own) plus gauges read from a snapshot at
 * scrape time. Nothing here runs when metrics are off: the components attach it only when given a
 * `Metrics`.
 */

/** What {@link meterGateway} / {@link meterProxy} attach the request observer to (an `AuditTrail`). */
export interface ObservableTrail {
  observe(observer: AuditObserver | null): void;
}

/**
 * The request observer: a start counts the request in flight (and a GET as an open stream); the
 * finish counts it by status class, bytes and duration. `known` bounds the `server` label to
 * configured names (gateway), see {@link Metrics.server}.
 */
export function requestObserver(metrics: Metrics, known?: (server: string) => boolean): AuditObserver {
  const of = (r: Readonly<AuditRecord>) => metrics.server(r.server, known);
  return {
    started: (r) => of(r).started(r.httpMethod === 'GET'),
    finished: (r) => of(r).finished(r.httpMethod === 'GET', r.status, r.bytesIn, r.bytesOut, r.durationMs / 1000),
    writeFailed: () => metrics.auditWriteFailure(),
  };
}

export interface MeteredGateway {
  trail: ObservableTrail;
  /** Whether `name` is a configured server now. */
  knownServer(name: string): boolean;
  snapshot(): GatewaySnapshot;
}

/** Attaches the gateway's metrics; returns the teardown. Auth failures are counted where they happen (tunnel endpoint). */
export function meterGateway(metrics: Metrics, g: MeteredGateway): () => void {
  g.trail.observe(requestObserver(metrics, (s) => g.knownServer(s)));
  const remove = metrics.beforeScrape(() => {
    const snap = g.snapshot();
    const counts = new Map<string, { authenticated: number; draining: number; secrets: Map<string, number> }>();
    for (const id of snap.tunnels) counts.set(id, { authenticated: 0, draining: 0, secrets: new Map() });
    for (const c of snap.connections) {
      const n = counts.get(c.tunnelId);
      if (n === undefined) continue; // a tunnel removed by a reload: no new series for it
      if (c.draining) n.draining++;
      else n.authenticated++;
      const label = c.secretIndex === null ? 'revoked' : String(c.secretIndex);
      n.secrets.set(label, (n.secrets.get(label) ?? 0) + 1);
    }
    for (const [id, n] of counts) {
      const t = metrics.tunnel(id);
      t.setConnections('authenticated', n.authenticated);
      t.setConnections('draining', n.draining);
      t.setSecrets(n.secrets);
    }
  });
  return () => {
    g.trail.observe(null);
    remove();
  };
}

/** Handshake refusals the proxy counts as authentication failures (by code), out of its `waiting` states. */
const PROXY_AUTH_FAILURES: ReadonlySet<string> = new Set([
  'TUNNEL_AUTH_FAILED',
  'TUNNEL_UNKNOWN_TUNNEL',
  'TUNNEL_UNSUPPORTED_VERSION',
  'TUNNEL_HANDSHAKE_TIMEOUT',
  'TUNNEL_HANDSHAKE_PROTOCOL',
  'TUNNEL_HANDSHAKE_CLOSED',
  'TUNNEL_CHANNEL_BINDING_REQUIRED',
  'TUNNEL_CHANNEL_BINDING_UNAVAILABLE',
  'TUNNEL_CHANNEL_BINDING_UNSUPPORTED',
  'TUNNEL_PIN_MISMATCH',
]);

export interface MeteredProxy {
  trail: ObservableTrail;
  tunnelId: string;
  /** Connections by state now. */
  counts(): Record<ConnectionState, number>;
  /** Every slot state as it happens; `waiting` means a connection failed or was lost and is retried. */
  slotStatus$: Observable<{ state: string; code?: string }>;
  /** The secret in use now (compared in memory only, to number its generations; never exported). */
  secret(): string;
}

/** Attaches the proxy's metrics; returns the teardown. */
export function meterProxy(metrics: Metrics, p: MeteredProxy): () => void {
  p.trail.observe(requestObserver(metrics));
  const tunnel = metrics.tunnel(p.tunnelId);
  const sub = p.slotStatus$.subscribe((s) => {
    if (s.state !== 'waiting') return;
    tunnel.reconnected();
    if (s.code !== undefined && PROXY_AUTH_FAILURES.has(s.code)) metrics.authFailure(s.code);
  });
  let last = p.secret();
  let generation = 1;
  const remove = metrics.beforeScrape(() => {
    const counts = p.counts();
    for (const state of CONNECTION_STATES) tunnel.setConnections(state, counts[state]);
    const current = p.secret();
    if (current !== last) {
      last = current;
      generation++;
    }
    // The proxy does not learn the secret's position on the gateway: it numbers the secrets it loaded.
    tunnel.secretInUse(`loaded-${generation}`);
  });
  return () => {
    sub.unsubscribe();
    p.trail.observe(null);
    remove();
  };
}
