export type { HeaderList, UpstreamRequest, UpstreamResponse, UpstreamDispatcher } from './types';
export { Cancellation } from './cancellation';
export { createUpstreamDispatcher, DEFAULT_CLOSE_GRACE_MS, type UpstreamDispatcherOptions } from './dispatcher';
export { UpstreamError, UpstreamErrorCode, UPSTREAM_ERROR_CODES, isUpstreamError } from './errors';
export { EgressPolicy, EgressDeniedError, type EgressDecision, type EgressResolver } from './egress';
