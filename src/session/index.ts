export { acceptHandshake, type AcceptOptions, type GatewaySession } from './accept';
export { authenticate, type AuthenticateOptions, type ProxySession } from './authenticate';
export { computeProof, matchProof, newNonce, type ProofInput } from './proof';
export { HandshakeError } from './errors';
export { GatewayReauth, ProxyReauth, secretId, type ControlChannel, type GatewayReauthOptions, type ProxyReauthOptions, type ReauthBinding, type ReauthOutcome } from './reauth';
export { tlsExporterBinding, gatewayChannelBinding, proxyChannelBinding, TLS_EXPORTER_LABEL, TLS_EXPORTER_LENGTH, type GatewayChannelBinding, type ProxyBindingDecision } from './channel-binding';
