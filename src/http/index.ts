export {
  type HeaderList,
  HOP_BY_HOP_HEADERS,
  REQUEST_ONLY_DROPPED_HEADERS,
  fromNodeRawHeaders,
  toNodeHeaders,
  connectionTokens,
  stripHopByHop,
  requestHeadersForUpstream,
  responseHeadersForClient,
  getHeader,
  getHeaderValues,
} from './headers';
export {
  type HostPort,
  type OriginTuple,
  ANY_ORIGIN,
  parseHostPort,
  parseOrigin,
  defaultPort,
  equalOrigins,
  isLoopbackName,
  listenerName,
} from './host';
export * as JsonBytes from './json-bytes';
