import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import {
  StreamableHTTPClientTransport,
  type StreamableHTTPReconnectionOptions,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LATEST_PROTOCOL_VERSION,
  LoggingMessageNotificationSchema,
  type ClientCapabilities,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
  type LoggingMessageNotification,
} from '@modelcontextprotocol/sdk/types.js';

/** Options of {@link connectClient}. */
export interface ConnectClientOptions {
  /** `'streamable'` (default) or the legacy `'sse'` transport. */
  transport?: 'streamable' | 'sse';
  /**
   * Extra request headers, e.g. `{ Authorization: 'Bearer …' }`. Sent on every request of both
   * transports (POST, GET stream, DELETE; for SSE also the initial GET).
   */
  headers?: Record<string, string>;
  /** Answers `sampling/createMessage`; declares the `sampling` capability. */
  onSample?: (request: CreateMessageRequest) => CreateMessageResult | Promise<CreateMessageResult>;
  /** Answers `elicitation/create`; declares the `elicitation` (form) capability. */
  onElicit?: (request: ElicitRequest) => ElicitResult | Promise<ElicitResult>;
  /** Extra capabilities, merged over the derived ones. */
  capabilities?: ClientCapabilities;
  /** Streamable HTTP only: reconnection (resumption) timing. Default: 2 retries, 1 s initial delay. */
  reconnectionOptions?: StreamableHTTPReconnectionOptions;
  /**
   * Streamable HTTP only: join an existing session instead of initializing a new one. The SDK then
   * skips `initialize` entirely (no capabilities exchange, no standalone GET stream).
   */
  sessionId?: string;
  /** With `sessionId`: the `MCP-Protocol-Version` to send; default the SDK's latest. */
  protocolVersion?: string;
  /** Client name in `initialize`; default `fixture-test-client`. */
  name?: string;
}

/** An initialized SDK client with what it observed. */
export interface ConnectedClient<T extends StreamableHTTPClientTransport | SSEClientTransport = StreamableHTTPClientTransport> {
  client: Client;
  transport: T;
  /** Errors the client reported through `onerror` (transport errors, unknown progress tokens, …). */
  errors: Error[];
  /** `notifications/message` params received, in order. */
  logs: Array<LoggingMessageNotification['params'] & { receivedAt: number }>;
  /** `client.close()` (aborts the transport's fetches). Does not DELETE the session. */
  close(): Promise<void>;
}

/** Builds an unconnected SDK client with the handlers of `opts` installed. */
export function createClient(opts: ConnectClientOptions = {}): Omit<ConnectedClient, 'transport'> {
  const capabilities: ClientCapabilities = {
    ...(opts.onSample ? { sampling: {} } : {}),
    ...(opts.onElicit ? { elicitation: { form: {} } } : {}),
    ...opts.capabilities,
  };
  const client = new Client({ name: opts.name ?? 'fixture-test-client', version: '1.0.0' }, { capabilities });
  const errors: Error[] = [];
  const logs: ConnectedClient['logs'] = [];
  client.onerror = (err) => errors.push(err);
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push({ ...n.params, receivedAt: Date.now() });
  });
  const { onSample, onElicit } = opts;
  if (onSample) client.setRequestHandler(CreateMessageRequestSchema, (req) => onSample(req));
  if (onElicit) client.setRequestHandler(ElicitRequestSchema, (req) => onElicit(req));
  return { client, errors, logs, close: () => client.close() };
}

/**
 * Connects an SDK `Client` (initialize + initialized) to `url` over Streamable HTTP or legacy SSE.
 *
 * @throws what `Client.connect` throws: for Streamable HTTP a `StreamableHTTPError` with the HTTP
 * status in `.code` (e.g. 401, 404); for SSE an `SseError` with `.code`.
 */
export async function connectClient(
  url: string | URL,
  opts: ConnectClientOptions & { transport: 'sse' },
): Promise<ConnectedClient<SSEClientTransport>>;
export async function connectClient(
  url: string | URL,
  opts?: ConnectClientOptions & { transport?: 'streamable' },
): Promise<ConnectedClient>;
export async function connectClient(
  url: string | URL,
  opts?: ConnectClientOptions,
): Promise<ConnectedClient<StreamableHTTPClientTransport | SSEClientTransport>>;
export async function connectClient(
  url: string | URL,
  opts: ConnectClientOptions = {},
): Promise<ConnectedClient<StreamableHTTPClientTransport | SSEClientTransport>> {
  const target = typeof url === 'string' ? new URL(url) : url;
  const requestInit: RequestInit | undefined = opts.headers ? { headers: opts.headers } : undefined;
  const transport =
    opts.transport === 'sse'
      ? new SSEClientTransport(target, { ...(requestInit ? { requestInit } : {}) })
      : new StreamableHTTPClientTransport(target, {
          ...(requestInit ? { requestInit } : {}),
          ...(opts.reconnectionOptions ? { reconnectionOptions: opts.reconnectionOptions } : {}),
          ...(opts.sessionId !== undefined ? { sessionId: opts.sessionId } : {}),
        });
  if (opts.sessionId !== undefined && transport instanceof StreamableHTTPClientTransport) {
    transport.setProtocolVersion(opts.protocolVersion ?? LATEST_PROTOCOL_VERSION);
  }
  const built = createClient(opts);
  await built.client.connect(transport);
  return { ...built, transport };
}
