/**
 * Fixed pino field names. Every log line and audit record uses these keys, so that operators can
 * build dashboards and alerts on them; renaming one is a breaking change.
 */
export const F = {
  component: 'component',
  tunnel: 'tunnel',
  connection: 'conn',
  stream: 'stream',
  requestId: 'rid',
  client: 'client',
  server: 'server',
  remote: 'remote',
  code: 'code',
  reason: 'reason',
  err: 'err',
  url: 'url',
  method: 'method',
  status: 'status',
  durationMs: 'durationMs',
  /** Which of the proxy's `connections` a tunnel connection belongs to (0-based). */
  slot: 'slot',
  /** The connection that replaces this one (make-before-break). */
  replacement: 'replacement',
  /** Requests (streams) still in flight. */
  inFlight: 'inFlight',
  /** A header's name (never its value), e.g. the one that made a head invalid. */
  header: 'header',
  /** What an operator can do about an error (a config key, an env var, a likely cause). */
  hint: 'hint',
  /** Attempt number of a retried operation (1 = the first). */
  attempt: 'attempt',
  /** Times a client's SSE stream was resumed on another tunnel stream (src/gateway/resume/). */
  resumptions: 'resumptions',
  /** A gateway replica's id (docs/cluster.md). */
  replica: 'replica',
} as const;

/**
 * pino `redact` paths, fixed in code (never from user input). Secrets and credentials are also kept
 * out of log objects at the source; this is the second line of defence.
 */
export const REDACT_PATHS: readonly string[] = [
  'secret',
  'secrets',
  'apiKey',
  'authorization',
  'password',
  'key',
  '*.secret',
  '*.secrets',
  '*.apiKey',
  '*.apiKeySha256',
  '*.authorization',
  '*.Authorization',
  '*.password',
  '*.key',
  'headers.authorization',
  'headers.cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
  'config.tunnels[*].secrets',
  'config.clients[*].apiKey',
  'config.clients[*].apiKeySha256',
];
