export { startGateway, type RunningGateway, type GatewayDeps } from './gateway';
export { TunnelRegistry, type TunnelConnection } from './tunnels';
export { GatewayError } from './errors';
export { route, upstreamUrl, gatewayPathFor, type Route } from './routes';
export { SseEndpointRewriter } from './sse-endpoint';
