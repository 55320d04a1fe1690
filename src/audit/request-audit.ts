import type { McpRequestInfo } from './mcp-info';
import {
  sanitizeAuditRecord,
  type AuditOutcome,
  type AuditRecord,
  type AuditResultFields,
  type AuditStaticFields,
  type GatewayAuditRecord,
  type GatewayAuditStart,
  type ProxyAuditRecord,
  type ProxyAuditStart,
} from './records';

/** A monotonic clock in milliseconds (`performance.now` by default). */
export type Clock = () => number;

export interface RequestAuditOptions<R extends AuditRecord> {
  /** Injected for tests; must be monotonic. Defaults to `performance.now`. */
  clock?: Clock;
  /**
   * Called with the record by the first `finish()`, typically `AuditTrail.write`. Must not throw
   * (`AuditTrail.write` does not): it runs on the request path.
   */
  onFinish?: (record: Readonly<R>) => void;
  /**
   * Called with the record as started (server, method known; result fields initial) by the
   * constructor; metrics count requests in flight from it. Must not throw.
   */
  onStart?: (record: Readonly<R>) => void;
}

const defaultClock: Clock = () => performance.now();

/**
 * Accumulates the audit record of one request. Start it when the request arrives with what is
 * known then, add to it while bytes flow, and call `finish()` exactly when the request is over.
 *
 * `finish()` produces the record once: later calls return null, and every setter becomes a no-op
 * once finished, so racing completion paths (response end, client abort, tunnel drop) can all
 * call it safely. The first failure wins: after `fail` or `abort`, neither changes the outcome
 * again. No method throws; invalid byte counts or statuses are ignored.
 */
export class RequestAudit<R extends AuditRecord> {
  readonly #record: R;
  readonly #clock: Clock;
  readonly #startedAt: number;
  readonly #onFinish: ((record: Readonly<R>) => void) | undefined;
  #finished = false;

  private constructor(record: R, options: RequestAuditOptions<R>) {
    this.#record = record;
    this.#clock = options.clock ?? defaultClock;
    this.#onFinish = options.onFinish;
    this.#startedAt = this.#clock();
    options.onStart?.(record);
  }

  /** Starts the audit of a request arriving at the gateway. */
  static gateway(
    start: GatewayAuditStart,
    options: RequestAuditOptions<GatewayAuditRecord> = {},
  ): RequestAudit<GatewayAuditRecord> {
    const record: GatewayAuditRecord = {
      side: 'gateway',
      rid: start.rid,
      client: start.client,
      server: start.server,
      tunnel: start.tunnel,
      conn: start.conn ?? null,
      httpMethod: start.httpMethod,
      path: start.path,
      mcpMethod: start.mcpMethod ?? null,
      jsonrpcId: start.jsonrpcId ?? null,
      tool: start.tool ?? null,
      sessionId: start.sessionId ?? null,
      inspection: start.inspection ?? 'none',
      policy: start.policy ?? null,
      requestSha256: start.requestSha256 ?? null,
      responseSha256: start.responseSha256 ?? null,
      ...initialResult(),
    };
    return new RequestAudit(record, options);
  }

  /** Starts the audit of an upstream call made by the proxy. */
  static proxy(
    start: ProxyAuditStart,
    options: RequestAuditOptions<ProxyAuditRecord> = {},
  ): RequestAudit<ProxyAuditRecord> {
    const record: ProxyAuditRecord = {
      side: 'proxy',
      rid: start.rid,
      tunnel: start.tunnel,
      server: start.server,
      upstream: start.upstream,
      httpMethod: start.httpMethod,
      egress: start.egress ?? null,
      ...initialResult(),
    };
    return new RequestAudit(record, options);
  }

  /** Whether `finish()` has been called. */
  get finished(): boolean {
    return this.#finished;
  }

  /** The outcome so far (`'ok'` until `fail` or `abort`). */
  get outcome(): AuditOutcome {
    return this.#record.outcome;
  }

  /** Sets fields learnt after the start (`conn`, `sessionId`, …); `undefined` values are skipped. */
  annotate(patch: Partial<AuditStaticFields<R>>): this {
    if (this.#finished) return this;
    const target = this.#record as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(patch)) {
      if (value !== undefined && key !== 'side') target[key] = value;
    }
    return this;
  }

  /** Gateway only: copies the method, JSON-RPC id and tool from the request inspector. */
  setMcp(
    this: RequestAudit<GatewayAuditRecord>,
    info: Pick<McpRequestInfo, 'mcpMethod' | 'jsonrpcId' | 'tool'>,
  ): RequestAudit<GatewayAuditRecord> {
    return this.annotate({ mcpMethod: info.mcpMethod, jsonrpcId: info.jsonrpcId, tool: info.tool });
  }

  /** Counts request body bytes received from the caller. */
  addBytesIn(n: number): this {
    if (!this.#finished && isCount(n)) this.#record.bytesIn += n;
    return this;
  }

  /** Counts response body bytes sent back to the caller. */
  addBytesOut(n: number): this {
    if (!this.#finished && isCount(n)) this.#record.bytesOut += n;
    return this;
  }

  /** Records the HTTP status (the last one set wins). */
  setStatus(status: number): this {
    if (!this.#finished && Number.isInteger(status) && status >= 0 && status <= 999) this.#record.status = status;
    return this;
  }

  /** Marks the request failed with a stable error code, unless it already failed or was aborted. */
  fail(code: string): this {
    if (!this.#finished && this.#record.outcome === 'ok') {
      this.#record.outcome = 'error';
      this.#record.errorCode = code;
    }
    return this;
  }

  /** Marks the request abandoned by a peer (optionally with a code), unless it already failed. */
  abort(code: string | null = null): this {
    if (!this.#finished && this.#record.outcome === 'ok') {
      this.#record.outcome = 'aborted';
      this.#record.errorCode = code;
    }
    return this;
  }

  /**
   * Ends the audit: computes `durationMs` from the injected clock, returns the sanitised record
   * and hands it to `onFinish`. Only the first call does this; later calls return null.
   */
  finish(): Readonly<R> | null {
    if (this.#finished) return null;
    this.#finished = true;
    const elapsed = this.#clock() - this.#startedAt;
    this.#record.durationMs = Number.isFinite(elapsed) ? Math.max(0, Math.round(elapsed * 1000) / 1000) : 0;
    const record = Object.freeze(sanitizeAuditRecord(this.#record));
    this.#onFinish?.(record);
    return record;
  }
}

function initialResult(): AuditResultFields {
  return { status: 0, outcome: 'ok', errorCode: null, bytesIn: 0, bytesOut: 0, durationMs: 0 };
}

function isCount(n: number): boolean {
  return Number.isFinite(n) && n >= 0;
}
