/** Kept for imports of the former module: client authentication now lives in `./auth`. */
export { ClientAuthenticator, clientMayUse, type ClientIdentity } from './auth';
