export { acceptHandshake, type AcceptOptions, type AcceptedSession } from './accept';
export { authenticate, type AuthenticateOptions, type AuthenticatedSession } from './authenticate';
export { computeProof, matchProof, newNonce, type ProofInput } from './proof';
export { HandshakeError } from './errors';
