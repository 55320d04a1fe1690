export { TunnelError, hasCode, describeError } from './tunnel-error';
