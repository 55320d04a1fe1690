import { HeaderProtocolError, ProtocolError, TooLargeError } from './errors';

/** Protocol versions this build speaks, newest first. */
export const SUPPORTED_VERSIONS: readonly number[] = [1];

/** Receive-side limits a peer announces in the handshake; the other side must respect them. */
export interface PeerSettings {
  /** Largest DATA payload the announcer accepts in one frame. */
  maxFrameSize: number;
  /** Initial per-stream window the announcer grants (bytes the peer may send before WINDOW_UPDATE). */
  streamWindow: number;
  /** Initial connection window the announcer grants. */
  connectionWindow: number;
  /** Concurrent streams the announcer accepts being opened by the peer. */
  maxStreams: number;
  /** Largest HEADERS / CONTROL payload the announcer accepts. */
  maxHeaderBytes: number;
}

export type HeaderList = Array<[string, string]>;

/** Our receive settings from configuration (the same shape on gateway and proxy). */
export function receiveSettings(
  flow: { maxFrameSize: number; streamWindow: number; connectionWindow: number },
  limits: { maxStreams: number; maxHeaderBytes: number },
): PeerSettings {
  return {
    maxFrameSize: flow.maxFrameSize,
    streamWindow: flow.streamWindow,
    connectionWindow: flow.connectionWindow,
    maxStreams: limits.maxStreams,
    maxHeaderBytes: limits.maxHeaderBytes,
  };
}

/**
 * Channel binding a gateway announces in `hello.binding` (docs/protocol.md §3): `tls-exporter` when
 * it terminates TLS itself (the proof covers RFC 9266's exporter value), `none` otherwise.
 */
export type ChannelBindingType = 'tls-exporter' | 'none';

export interface HelloMessage {
  type: 'hello';
  versions: number[];
  /** base64url of 32 random bytes. */
  nonce: string;
  /**
   * The channel binding the proof must cover. Absent (gateways before this field) means `none`; a
   * value the proxy does not know is kept as sent, so the proxy can refuse it by name.
   */
  binding?: ChannelBindingType | (string & {});
}
export interface AuthMessage {
  type: 'auth';
  version: number;
  tunnel: string;
  /** base64url HMAC-SHA256, see session/proof.ts and docs/protocol.md. */
  proof: string;
  proxy: { id: string; name: string; software: string };
  settings: PeerSettings;
}
export interface ReadyMessage {
  type: 'ready';
  version: number;
  connection: string;
  settings: PeerSettings;
}
export type ControlMessage = HelloMessage | AuthMessage | ReadyMessage;

/** HEADERS payload that opens a stream (gateway → proxy). */
export interface RequestHead {
  rid: string;
  server: string;
  url: string;
  method: string;
  headers: HeaderList;
}
/** HEADERS payload that answers a stream (proxy → gateway). */
export interface ResponseHead {
  status: number;
  headers: HeaderList;
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function parseObject(payload: Buffer, what: string, limit: number): Record<string, unknown> {
  if (payload.length > limit) {
    throw new TooLargeError(`${what} of ${payload.length} bytes exceeds limit ${limit}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new ProtocolError('TUNNEL_PROTOCOL_BAD_JSON', `${what} is not valid JSON`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function str(o: Record<string, unknown>, key: string, what: string, max = 8192): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length > max) {
    throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `${what}.${key} must be a string of at most ${max} chars`);
  }
  return v;
}

function int(o: Record<string, unknown>, key: string, what: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `${what}.${key} must be an integer in [${min}, ${max}]`);
  }
  return v;
}

function obj(o: Record<string, unknown>, key: string, what: string): Record<string, unknown> {
  const v = o[key];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `${what}.${key} must be an object`);
  }
  return v as Record<string, unknown>;
}

/**
 * What Node's HTTP layer accepts (`http.validateHeaderName` / `validateHeaderValue`, the same rules
 * undici applies to request headers): a name is an RFC 9110 token; a value holds only HTAB, visible
 * ASCII, SP and obs-text (0x80-0xFF). Anything else (a control byte, DEL, a code point above 0xFF)
 * makes `writeHead` or undici throw, so it must be refused here, before any application code runs.
 */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** A header name fit for a log line: the name when it is a token, else a short escaped form. */
function printableName(name: unknown): string {
  if (typeof name === 'string' && HEADER_NAME.test(name)) return name.slice(0, 64);
  return (JSON.stringify(name) ?? String(name)).slice(0, 64);
}

function headerList(o: Record<string, unknown>, what: string): HeaderList {
  const v = o['headers'];
  if (!Array.isArray(v)) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `${what}.headers must be an array`);
  const out: HeaderList = [];
  for (const pair of v as unknown[]) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `${what}.headers has an entry that is not a [name, value] pair of strings`);
    }
    const [name, value] = pair as [string, string];
    if (!HEADER_NAME.test(name)) {
      throw new HeaderProtocolError(`${what}.headers has an invalid header name ${printableName(name)}`, printableName(name));
    }
    // The value itself is never quoted: it may carry a secret (a cookie, a token).
    if (INVALID_HEADER_VALUE.test(value)) {
      throw new HeaderProtocolError(`${what}.headers has an invalid value for header "${name}" (control byte or character above 0xFF)`, name);
    }
    out.push([name.toLowerCase(), value]);
  }
  return out;
}

export function parseSettings(o: Record<string, unknown>, what: string): PeerSettings {
  return {
    maxFrameSize: int(o, 'maxFrameSize', what, 1024, 16 * 1024 * 1024),
    streamWindow: int(o, 'streamWindow', what, 1024, 0x7fffffff),
    connectionWindow: int(o, 'connectionWindow', what, 1024, 0x7fffffff),
    maxStreams: int(o, 'maxStreams', what, 1, 1 << 20),
    maxHeaderBytes: int(o, 'maxHeaderBytes', what, 1024, 16 * 1024 * 1024),
  };
}

/**
 * Parses and validates a CONTROL payload.
 * @throws ProtocolError for oversized, non-JSON or ill-formed messages and unknown types.
 */
export function parseControl(payload: Buffer, limit: number): ControlMessage {
  const o = parseObject(payload, 'control message', limit);
  const type = o['type'];
  switch (type) {
    case 'hello': {
      const versions = o['versions'];
      if (!Array.isArray(versions) || versions.length === 0 || versions.length > 32 || !versions.every((v) => Number.isInteger(v) && (v as number) > 0)) {
        throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', 'hello.versions must be a non-empty list of positive integers');
      }
      const hello: HelloMessage = { type, versions: versions as number[], nonce: str(o, 'nonce', 'hello', 256) };
      if (o['binding'] !== undefined) hello.binding = str(o, 'binding', 'hello', 64);
      return hello;
    }
    case 'auth': {
      const proxy = obj(o, 'proxy', 'auth');
      return {
        type,
        version: int(o, 'version', 'auth', 1, 0xffff),
        tunnel: str(o, 'tunnel', 'auth', 64),
        proof: str(o, 'proof', 'auth', 256),
        proxy: { id: str(proxy, 'id', 'auth.proxy', 128), name: str(proxy, 'name', 'auth.proxy', 256), software: str(proxy, 'software', 'auth.proxy', 128) },
        settings: parseSettings(obj(o, 'settings', 'auth'), 'auth.settings'),
      };
    }
    case 'ready':
      return {
        type,
        version: int(o, 'version', 'ready', 1, 0xffff),
        connection: str(o, 'connection', 'ready', 128),
        settings: parseSettings(obj(o, 'settings', 'ready'), 'ready.settings'),
      };
    default:
      throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', `unknown control message type ${JSON.stringify(type)?.slice(0, 40)}`);
  }
}

export function parseRequestHead(payload: Buffer, limit: number): RequestHead {
  const o = parseObject(payload, 'request head', limit);
  const method = str(o, 'method', 'request head', 32);
  if (!/^[A-Z]+$/.test(method)) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_MESSAGE', 'request head.method is not an HTTP method');
  return {
    rid: str(o, 'rid', 'request head', 128),
    server: str(o, 'server', 'request head', 128),
    url: str(o, 'url', 'request head', 16384),
    method,
    headers: headerList(o, 'request head'),
  };
}

/**
 * Lowest and highest status a response head may carry. 1xx are interim answers the proxy's HTTP
 * client consumes itself (a 1xx as the final head would leave the client waiting for another), and
 * Node's `writeHead` refuses anything outside 100-999; 600-999 are not HTTP.
 */
export const MIN_RESPONSE_STATUS = 200;
export const MAX_RESPONSE_STATUS = 599;

/**
 * Parses and validates a response head (proxy → gateway). What passes can be handed to Node's
 * `writeHead` without it throwing (see {@link headerList}).
 * @throws ProtocolError (`HeaderProtocolError` for a bad header, naming the header but never its value).
 */
export function parseResponseHead(payload: Buffer, limit: number): ResponseHead {
  const o = parseObject(payload, 'response head', limit);
  return { status: int(o, 'status', 'response head', MIN_RESPONSE_STATUS, MAX_RESPONSE_STATUS), headers: headerList(o, 'response head') };
}
