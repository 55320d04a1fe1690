export { startGateway, type RunningGateway, type GatewayDeps } from './gateway';
export { TunnelRegistry, type TunnelConnection } from './tunnels';
export { GatewayError } from './errors';
export { route, upstreamUrl, resolveEndpoint, isBasePath, type Route, type QueryConflict } from './routes';
export { SseEndpointRewriter } from './sse-endpoint';
