export { dial, trustedCas, type DialOptions, type DialedConnection } from './dial';
export { fullJitterDelay, permanentDelay, DEFAULT_PERMANENT_MIN_MS, DEFAULT_PERMANENT_MAX_MS, type BackoffPolicy } from './backoff';
export { DialError } from './errors';
export { checkPins, spkiSha256 } from './pin';
export { wsTransport, truncateCloseReason } from './ws-transport';
