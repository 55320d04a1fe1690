export { dial, trustedCas, type DialOptions, type DialedSocket } from './dial';
export { fullJitterDelay, permanentDelay, reconnectDelayMs, DEFAULT_PERMANENT_MIN_MS, DEFAULT_PERMANENT_MAX_MS, type BackoffPolicy } from './backoff';
export { AuthRevokedError, DialError } from './errors';
export { checkPins, spkiSha256 } from './pin';
export { reconnectVerdict, MAX_RETRY_AFTER_MS, type ReconnectVerdict } from './verdict';
export { wsTransport, truncateCloseReason } from './ws-transport';
