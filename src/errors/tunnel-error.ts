/**
 * Base class of every error mcp-tunnel raises on purpose.
 *
 * Compare `code` (a stable string, documented in docs/errors.md), never `instanceof`, across module
 * and process boundaries: an error that crossed the tunnel is rebuilt from its code.
 */
export class TunnelError extends Error {
  /** Stable machine-readable code, e.g. `TUNNEL_AUTH_FAILED`. */
  readonly code: string;
  /** Whether retrying the same operation later may succeed. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TunnelError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** True when `err` carries the given stable code (works across realms and for plain objects). */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Best-effort one-line description of an unknown thrown value, for log lines and error bodies. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
