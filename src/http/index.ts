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
