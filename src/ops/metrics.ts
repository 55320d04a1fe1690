import { Counter, Gauge, Registry, collectDefaultMetrics } from './prom';
import { CONNECTION_STATES, type ConnectionState } from './connection-states';

/** Which process the metrics describe; a constant label of `mcp_tunnel_build_info`. */
export type MetricsRole = 'gateway' | 'proxy';

export { CONNECTION_STATES, type ConnectionState } from './connection-states';

/** Status classes of `mcp_tunnel_requests_total`; `none` is a request that ended before any status. */
const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/** Request-duration buckets in seconds: MCP calls range from sub-millisecond pings to long tool calls. */
/** Most distinct `server` label values; later names share {@link OTHER_LABEL} (a bounded series count). */
export const MAX_SERVER_LABELS = 256;
/** Most distinct `reason` values of `mcp_tunnel_auth_failures_total`. */
const MAX_REASON_LABELS = 32;
/** The label value that stands for servers or reasons past the caps, and for unknown servers. */
export const OTHER_LABEL = 'other';

export const DEFAULT_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface MetricsOptions {
  role: MetricsRole;
  version: string;
  /** Also export prom-client's process_* and nodejs_* metrics (on by default). */
  defaultMetrics?: boolean;
  durationBuckets?: readonly number[];
}

type CounterChild = ReturnType<Counter<string>['labels']>;
type GaugeChild = ReturnType<Gauge<string>['labels']>;

interface Families {
  connections: Gauge<'tunnel' | 'state'>;
  reconnects: Counter<'tunnel'>;
  authFailures: Counter<'reason'>;
  secretInUse: Gauge<'tunnel' | 'secret_id'>;
  auditWriteFailures: Counter<string>;
}

/**
 * Per-server request metrics kept in plain numbers: the request path does a few additions and one
 * short bucket search, with no label hashing (prom-client's label children hash their labels into a
 * string on every call; measured ~0.5 µs each, ~3 µs a request). The values become Prometheus samples
 * only when `/metrics` is scraped ({@link Metrics} registers collectors that read these fields). Get it
 * from {@link Metrics.server} once per configured server, or cache it beside the server's route.
 */
export class ServerMetrics {
  /** @internal requests by status class, indexed like STATUS_CLASSES */
  readonly byClass = [0, 0, 0, 0, 0, 0];
  /** @internal per-bucket (not cumulative) duration counts; the last slot is +Inf */
  readonly bucketCounts: Float64Array;
  /** @internal */ inFlight = 0;
  /** @internal */ requestBytes = 0;
  /** @internal */ responseBytes = 0;
  /** @internal */ sseStreams = 0;
  /** @internal */ durationSum = 0;
  /** @internal */ durationCount = 0;

  /** @internal built by {@link Metrics.server}. */
  constructor(
    readonly server: string,
    private readonly bounds: readonly number[],
  ) {
    this.bucketCounts = new Float64Array(bounds.length + 1);
  }

  /** A request started; `sse` for a GET (a long-lived stream). Pair with {@link finished}. */
  started(sse: boolean): void {
    this.inFlight++;
    if (sse) this.sseStreams++;
  }

  /**
   * The request ended (answered, failed or abandoned). Call exactly once per {@link started}.
   * @param status the HTTP status sent, or 0 when none was sent
   * @param bytesIn request body bytes forwarded towards the upstream
   * @param bytesOut response body bytes forwarded towards the client
   * @param seconds how long it took
   */
  finished(sse: boolean, status: number, bytesIn: number, bytesOut: number, seconds: number): void {
    this.inFlight--;
    if (sse) this.sseStreams--;
    this.byClass[status >= 100 && status <= 599 ? Math.floor(status / 100) : 0]!++;
    this.requestBytes += bytesIn;
    this.responseBytes += bytesOut;
    this.durationSum += seconds;
    this.durationCount++;
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]!) i++;
    this.bucketCounts[i]!++;
  }
}

/** One sample as prom-client's registry renders it. */
interface Sample {
  metricName?: string;
  labels: Record<string, string>;
  value: number;
}

/** Tunnel-level metrics (connections, reconnects, the secret in use), bound once per tunnel id. */
export class TunnelMetrics {
  private readonly states: Record<ConnectionState, GaugeChild>;
  private readonly reconnects: CounterChild;
  private secretLabels: ReadonlySet<string> = new Set();

  /** @internal built by {@link Metrics.tunnel}. */
  constructor(
    private readonly f: Families,
    private readonly tunnelId: string,
  ) {
    this.states = {
      connecting: f.connections.labels(tunnelId, 'connecting'),
      authenticated: f.connections.labels(tunnelId, 'authenticated'),
      draining: f.connections.labels(tunnelId, 'draining'),
    };
    for (const s of CONNECTION_STATES) this.states[s].set(0);
    this.reconnects = f.reconnects.labels(tunnelId);
  }

  /** Sets how many of this tunnel's connections are in `state` now. */
  setConnections(state: ConnectionState, count: number): void {
    this.states[state].set(count);
  }

  /** Proxy: a connection is being re-dialled after it was lost or failed. */
  reconnected(): void {
    this.reconnects.inc();
  }

  /**
   * Marks `label` as the secret in use (`mcp_tunnel_secret_in_use{secret_id=label} 1`), replacing the
   * previous one. The label must not be derived from the secret's value (no hash of it: a short secret
   * could be brute-forced from one): use its position in `tunnels[].secrets` or a generation counter.
   */
  secretInUse(label: string): void {
    this.setSecrets(new Map([[label, 1]]));
  }

  /**
   * Gateway: how many connections use each secret (by label, as for {@link secretInUse}); labels
   * not in `counts` are removed.
   */
  setSecrets(counts: ReadonlyMap<string, number>): void {
    for (const old of this.secretLabels) if (!counts.has(old)) this.f.secretInUse.remove(this.tunnelId, old);
    for (const [label, n] of counts) this.f.secretInUse.labels(this.tunnelId, label).set(n);
    this.secretLabels = new Set(counts.keys());
  }
}

/**
 * The process's Prometheus metrics (prom-client, a registry of its own so that two instances in one
 * process - tests, the demo - never collide). Names and labels are listed in docs/operations.md.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly f: Families;
  private readonly bounds: readonly number[];
  private readonly servers = new Map<string, ServerMetrics>();
  private readonly tunnels = new Map<string, TunnelMetrics>();
  private readonly authFailureChildren = new Map<string, CounterChild>();

  constructor(opts: MetricsOptions) {
    const registers = [this.registry];
    const g = <L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> =>
      new Gauge({ name, help, labelNames, registers });
    const c = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> =>
      new Counter({ name, help, labelNames, registers });
    this.bounds = [...(opts.durationBuckets ?? DEFAULT_DURATION_BUCKETS)];
    this.f = {
      connections: g('mcp_tunnel_connections', 'Tunnel connections by state.', ['tunnel', 'state']),
      reconnects: c('mcp_tunnel_reconnects_total', 'Tunnel connections re-established after a loss.', ['tunnel']),
      authFailures: c('mcp_tunnel_auth_failures_total', 'Failed tunnel authentications by reason (error code).', ['reason']),
      secretInUse: g('mcp_tunnel_secret_in_use', 'The tunnel secret in use (1), by label; never its value.', ['tunnel', 'secret_id']),
      auditWriteFailures: c('mcp_tunnel_audit_write_failures_total', 'Audit records that could not be written.', []),
    };
    this.registerRequestFamilies();
    g('mcp_tunnel_build_info', 'Version and role of this process (always 1).', ['version', 'role']).labels(opts.version, opts.role).set(1);
    if (opts.defaultMetrics ?? true) collectDefaultMetrics(this.registry);
  }

  private readonly collectors = new Set<() => void>();

  /**
   * The bound request metrics of one server (created on first use, then cached; never removed, so
   * a request's start and finish always meet the same object). Past {@link MAX_SERVER_LABELS}
   * names, or when `known` says the name is not a configured server (a 404 for any path a client
   * makes up must not mint a series), the shared `other` entry.
   */
  server(name: string, known?: (name: string) => boolean): ServerMetrics {
    let s = this.servers.get(name);
    if (s === undefined) {
      const label = this.servers.size < MAX_SERVER_LABELS && (known === undefined || known(name)) ? name : OTHER_LABEL;
      s = this.servers.get(label);
      if (s === undefined) {
        s = new ServerMetrics(label, this.bounds);
        this.servers.set(label, s);
      }
    }
    return s;
  }

  /**
   * Runs `collect` before every scrape (to set gauges from a live snapshot: connections by state,
   * the secret in use) instead of on every change. Returns the function that removes it.
   */
  beforeScrape(collect: () => void): () => void {
    this.collectors.add(collect);
    return () => this.collectors.delete(collect);
  }

  /** The bound metrics of one tunnel (created on first use, then cached). */
  tunnel(id: string): TunnelMetrics {
    let t = this.tunnels.get(id);
    if (t === undefined) {
      t = new TunnelMetrics(this.f, id);
      this.tunnels.set(id, t);
    }
    return t;
  }

  /**
   * A tunnel authentication failed. `reason` must come from a fixed set (a `TUNNEL_*` code), never
   * from peer input, so that the label's cardinality stays bounded.
   */
  authFailure(reason: string): void {
    let child = this.authFailureChildren.get(reason);
    if (child === undefined) {
      const label = this.authFailureChildren.size < MAX_REASON_LABELS && /^TUNNEL_[A-Z_]{1,48}$/.test(reason) ? reason : OTHER_LABEL;
      child = this.authFailureChildren.get(label) ?? this.f.authFailures.labels(label);
      if (label !== reason) this.authFailureChildren.set(label, child);
      this.authFailureChildren.set(reason, child);
    }
    child.inc();
  }

  /** An audit record could not be written. */
  auditWriteFailure(): void {
    this.f.auditWriteFailures.inc();
  }

  /** Collectors that turn every {@link ServerMetrics}' plain numbers into samples at scrape time. */
  private registerRequestFamilies(): void {
    const each = (f: (s: ServerMetrics) => Sample[]): (() => Sample[]) => () => [...this.servers.values()].flatMap(f);
    const one = (read: (s: ServerMetrics) => number) => each((s) => [{ labels: { server: s.server }, value: read(s) }]);
    const families: Array<[string, string, 'counter' | 'gauge' | 'histogram', () => Sample[]]> = [
      ['mcp_tunnel_requests_total', 'MCP requests by server and HTTP status class.', 'counter',
        each((s) => STATUS_CLASSES.map((cls, i) => ({ labels: { server: s.server, code_class: cls }, value: s.byClass[i]! })))],
      ['mcp_tunnel_requests_in_flight', 'MCP requests in flight.', 'gauge', one((s) => s.inFlight)],
      ['mcp_tunnel_request_bytes_total', 'Request body bytes forwarded towards upstream servers.', 'counter', one((s) => s.requestBytes)],
      ['mcp_tunnel_response_bytes_total', 'Response body bytes forwarded towards clients.', 'counter', one((s) => s.responseBytes)],
      ['mcp_tunnel_request_duration_seconds', 'MCP request duration, from the request head to the end of the response.', 'histogram',
        each((s) => this.histogramSamples(s))],
      ['mcp_tunnel_sse_streams', 'Open GET (SSE) streams.', 'gauge', one((s) => s.sseStreams)],
    ];
    for (const [name, help, type, values] of families) {
      // prom-client's registry renders any object with name/help/type and get(); its Metric class
      // type insists on private members, hence the cast.
      const metric = { name, help, type, aggregator: 'sum', get: async () => ({ name, help, type, aggregator: 'sum', values: values() }), reset: () => undefined };
      this.registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
    }
  }

  private histogramSamples(s: ServerMetrics): Sample[] {
    const name = 'mcp_tunnel_request_duration_seconds';
    const out: Sample[] = [];
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += s.bucketCounts[i]!;
      const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf';
      out.push({ metricName: `${name}_bucket`, labels: { server: s.server, le }, value: cumulative });
    }
    out.push({ metricName: `${name}_sum`, labels: { server: s.server }, value: s.durationSum });
    out.push({ metricName: `${name}_count`, labels: { server: s.server }, value: s.durationCount });
    return out;
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    for (const collect of this.collectors) collect();
    return this.registry.metrics();
  }

  /** The Content-Type of {@link render}'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
